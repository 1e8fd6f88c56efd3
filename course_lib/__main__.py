"""The course's command line: ``python -m course_lib <command>``.

- ``doctor [--online]``: check this environment (see ``course_lib.doctor``).
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check Python, packages, device and shipped checkpoints")
    doctor.add_argument("--online", action="store_true", help="also check that the model hub answers")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from .doctor import report

        return 0 if report(online=args.online) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())

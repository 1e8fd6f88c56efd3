"""The course's command line: ``python -m course_lib <command>``.

- ``doctor [--online]``: check this environment (see ``course_lib.doctor``).
- ``train STAGE [--mode MODE] [--out DIR]``: train a stage's preset and save its checkpoint (the
  shipped checkpoints in ``course_lib/data`` are made with ``--mode full``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


# stage name -> the course_lib module whose train_shipped(mode, out_dir) trains and saves it
STAGES: dict[str, str] = {"gan": "gan", "text_gan": "text_gan"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check Python, packages, device and shipped checkpoints")
    doctor.add_argument("--online", action="store_true", help="also check that the model hub answers")
    train = commands.add_parser("train", help="train a stage's preset and save its checkpoint")
    train.add_argument("stage", choices=sorted(STAGES), help="which model to train")
    train.add_argument("--mode", choices=("smoke", "workshop", "full"), default="full")
    train.add_argument("--out", type=Path, default=None, help="where to write (default: course_lib/data)")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from .doctor import report

        return 0 if report(online=args.online) else 1
    if args.command == "train":
        import importlib

        from .checkpoints import DATA_DIR

        module = importlib.import_module(f"course_lib.{STAGES[args.stage]}")
        module.train_shipped(args.mode, args.out or DATA_DIR)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())

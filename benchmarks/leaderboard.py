"""``python -m benchmarks.leaderboard``: the course's closing leaderboard, every text-to-image system on the
same prompts, judged by the oracle (``course_lib.leaderboard`` says what each figure is).

    python -m benchmarks.leaderboard                          # every system, the published budget
    python -m benchmarks.leaderboard --system glide imagen    # re-measure two rows, keep the others
    python -m benchmarks.leaderboard --budget tiny --checkpoints DIR --record FILE --readme FILE

A system whose checkpoints are missing is skipped with a line saying so. The record (rows, and when and
on which machine each was measured) goes to ``course_lib/data/leaderboard.json``, which notebook 14
reads, and the table into ``benchmarks/README.md`` between its markers (``python -m benchmarks.report``
rebuilds it from the record).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch

from course_lib import leaderboard, stages
from course_lib.paths import DATA_DIR

from .report import _number, machine, write_leaderboard

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.leaderboard", description=__doc__.splitlines()[0])
    parser.add_argument("--system", nargs="+", default=[s.key for s in leaderboard.SYSTEMS],
                        choices=[s.key for s in leaderboard.SYSTEMS], help="the rows to measure (default: all)")
    parser.add_argument("--budget", choices=sorted(leaderboard.BUDGETS), default="full",
                        help="prompts per split and kind (full: the published table)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--checkpoints", type=Path, default=DATA_DIR, help="where the checkpoints are")
    parser.add_argument("--record", type=Path, default=leaderboard.RECORD, help="the JSON record to update")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md", help="the file with the table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but no CUDA GPU is available here", file=sys.stderr)
        return 2
    if not (args.checkpoints / "clip.safetensors").exists():
        print(f"error: no clip checkpoint in {args.checkpoints}: CLIP ranks every system's best of 16",
              file=sys.stderr)
        return 2
    device = torch.device(args.device)
    ranker = stages.load("clip", args.checkpoints, device)
    record = json.loads(args.record.read_text()) if args.record.exists() else {"rows": {}, "measured": {}}
    where = machine(device)
    for system in leaderboard.SYSTEMS:
        if system.key not in args.system:
            continue
        absent = leaderboard.missing(system, args.checkpoints)
        if absent:
            print(f"{system.key}: skipped, no checkpoint {', '.join(absent)} in {args.checkpoints}")
            continue
        print(f"{system.key}: measuring ({args.budget} budget, {device}) ...", flush=True)
        torch.manual_seed(0)
        figures = leaderboard.measure(system, leaderboard.BUDGETS[args.budget], ranker, args.checkpoints, device)
        record["rows"][system.key] = {name: _number(value) for name, value in figures.items()}
        now = datetime.datetime.now().isoformat(timespec="seconds")
        record["measured"][system.key] = f"{now} ({args.budget} budget, {device.type}; {where})"
        args.record.write_text(json.dumps(record, indent=2) + "\n")  # each row kept as soon as it is measured
        print(f"{system.key}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()), flush=True)
    if record["rows"]:
        write_leaderboard(args.readme, record)
        print(f"wrote {args.record} and the leaderboard in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

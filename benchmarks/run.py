"""``python -m benchmarks.run``: measure the shipped checkpoints' quality and speed, write the results.

    python -m benchmarks.run --stage all --device cpu --notebooks   # everything, as published
    python -m benchmarks.run --stage gan vqgan --device cpu --quick  # a few stages, small samples
    python -m benchmarks.run --stage vq_peer                          # our VQ layer vs vector-quantize-pytorch
    python -m benchmarks.run --stage none --notebooks 05_vq_vae       # only this notebook's time
    python -m benchmarks.run --stage none --notebooks --site site     # every notebook's time, and the rendered edition

A stage whose checkpoint is missing is skipped with a line saying so; a stage that fails is reported
and the others still run (the exit status is then 1). Figures go to ``results/<device>.json`` (merged
with the stages not measured this time) and the table in ``README.md``.
"""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import torch

from course_lib.checkpoints import DATA_DIR

from . import report, vq_peer
from .notebooks import NOTEBOOK_DIR, time_notebooks
from .stages import STAGES, Context
from .timing import BUDGETS, seconds

HERE = Path(__file__).resolve().parent
ORDER = [*STAGES, "vq_peer"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", nargs="+", default=["all"], choices=[*ORDER, "all", "none"],
                        help="stages to measure (all: every stage and vq_peer; none: only --notebooks)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="small samples (minutes), same as --budget quick")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="full", help="how much to draw and time")
    parser.add_argument("--notebooks", nargs="*", metavar="STEM", default=None,
                        help="also time the notebooks in workshop mode: all of them, or those named (e.g. 05_vq_vae)")
    parser.add_argument("--site", type=Path, default=None, metavar="DIR",
                        help="with --notebooks: also write the rendered edition of the notebooks it ran to DIR "
                             "(course_lib.rendered, as `make site` does), from the same executions")
    parser.add_argument("--checkpoints", type=Path, default=DATA_DIR, help="where the checkpoints are")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where <device>.json goes")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md", help="the file with the table")
    parser.add_argument("--notebook-dir", type=Path, default=NOTEBOOK_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.budget = "quick"
    return args


def selected(names: list[str]) -> list[str]:
    """The stages asked for, in course order."""
    if "none" in names:
        return []
    return ORDER if "all" in names else [s for s in ORDER if s in names]


def measure(stage: str, ctx: Context) -> dict[str, float] | None:
    """One stage's figures, or None when its checkpoints are missing (said in a line)."""
    if stage == "vq_peer":
        return vq_peer.compare(ctx.budget, ctx.device)
    needs, measure_stage = STAGES[stage]
    missing = [name for name in needs if not (ctx.directory / f"{name}.safetensors").exists()]
    if missing:
        print(f"{stage}: skipped, no checkpoint {', '.join(missing)} in {ctx.directory}")
        return None
    return measure_stage(ctx)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but no CUDA GPU is available here", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    ctx = Context(args.checkpoints, BUDGETS[args.budget], device)
    results, failed = {}, []
    for stage in selected(args.stage):
        print(f"{stage}: measuring ({args.budget} budget, {device}) ...", flush=True)
        torch.manual_seed(0)
        try:
            took, figures = seconds(lambda: measure(stage, ctx))
        except Exception:  # one broken stage must not lose the others' figures
            traceback.print_exc()
            print(f"{stage}: failed (traceback above)")
            failed.append(stage)
            continue
        if figures is not None:
            results[stage] = figures | {"measure_seconds": took}
            print(f"{stage}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()), flush=True)
    notebook_seconds = {}
    if args.notebooks is not None:
        paths = sorted(args.notebook_dir.glob("*.ipynb"))
        unknown = set(args.notebooks) - {p.stem for p in paths}
        if unknown:
            print(f"error: no notebook {', '.join(sorted(unknown))} in {args.notebook_dir}", file=sys.stderr)
            return 2
        paths = [p for p in paths if not args.notebooks or p.stem in args.notebooks]
        executed = {}
        notebook_seconds, broken = time_notebooks(paths, "workshop", args.device, executed)
        failed += [f"notebook {name}" for name in broken]
        if args.site is not None:
            from course_lib import rendered

            lessons = [(stem, executed[stem], notebook_seconds[stem]) for stem in executed]
            print(f"wrote the rendered edition: {rendered.write_site(args.site, lessons, 'workshop')}")
    path = args.results / f"{device.type}.json"
    report.write_results(path, device, results, notebook_seconds, args.budget)
    report.update_readme(args.readme, args.results)
    print(f"wrote {path} and the table in {args.readme}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

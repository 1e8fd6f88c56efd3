"""``python -m benchmarks.ablation_gan_cls``: what does GAN-CLS's wrong pair buy?

Reed et al. (2016) gave their discriminator a third pair, a real picture with a wrong caption,
scored as fake, so that D must read the caption and G is punished for a realistic picture of the
wrong thing (``course_lib.text_gan``). This script trains GAN-CLS twice from the same start with the
same seed and the same step budget, once with the wrong pair (``wrong_weight`` ½, the recipe) and once
without it (``wrong_weight`` 0: a plain conditional D), for each seed, and measures both with
``text_gan.evaluate``: oracle caption accuracy of one sample per one-object prompt, seen and held out.
The shipped checkpoint is measured the same way as a reference row. Figures go to
``course_lib/data/ablation_gan_cls.json`` (``course_lib.ablations``), which notebook 02 prints.

    python -m benchmarks.ablation_gan_cls                      # workshop preset, 4,000 steps, seeds 0 and 1
    python -m benchmarks.ablation_gan_cls --steps 200 --seeds 0 --out /tmp   # a quick look

The runs go two at a time (``--jobs``), one torch thread each, so a 2-core CPU does both arms at
once; the preset's time cap is lifted so that every run gets exactly ``--steps`` steps.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from course_lib import ablations, checkpoints, text_gan
from course_lib.paths import DATA_DIR
from course_lib.train import seeded

NAME = "gan_cls"
QUESTION = "what does the matching-aware discriminator's wrong pair (real picture, wrong caption → 0) buy?"
ARMS = {"wrong pair": 0.5, "no wrong pair": 0.0}  # arm -> TextGANTraining.wrong_weight
FIGURES = ("caption_acc_seen", "caption_acc_heldout")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ablation_gan_cls", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="workshop", choices=[m for m in text_gan.PRESETS if m != "tiny"],
                        help="the preset whose model and training are compared (default: workshop)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: the preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds, each run in both arms")
    parser.add_argument("--n-eval", type=int, default=1000, help="prompts per split for text_gan.evaluate")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one torch thread each")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder of ablation_gan_cls.json")
    return parser.parse_args(argv)


def run_arm(mode: str, steps: int, seed: int, wrong_weight: float, n_eval: int) -> dict[str, float]:
    """One run: the ``mode`` preset with ``steps`` steps, ``seed`` and ``wrong_weight``, built and
    trained as ``course_lib.stages`` does it, then measured; its figures and seconds."""
    torch.set_num_threads(1)
    config, training = text_gan.preset(mode)
    training = dataclasses.replace(training, steps=steps, seconds=None, seed=seed, wrong_weight=wrong_weight)
    start = time.perf_counter()
    with seeded(training.seed):  # the same first weights in both arms of a seed
        model = text_gan.build(config)
    model, history = text_gan.train(model, training, progress=False)
    figures = text_gan.evaluate(model, n=n_eval, kind=training.kind)
    return {**figures, "steps": history.steps, "seconds": round(time.perf_counter() - start, 1)}


def shipped_figures(n_eval: int) -> dict[str, float]:
    """The shipped checkpoint, measured like the arms (its own budget: the full preset)."""
    model = checkpoints.load(checkpoints.shipped("text_gan"), text_gan.TextGAN, text_gan.TextGANConfig)
    return text_gan.evaluate(model, n=n_eval)


def mean_row(rows: list[dict[str, float]]) -> dict[str, float]:
    return {f: statistics.fmean(r[f] for r in rows) for f in FIGURES}


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    steps = args.steps or text_gan.preset(args.mode).training.steps
    runs = [(arm, seed) for seed in args.seeds for arm in ARMS]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {run: pool.submit(run_arm, args.mode, steps, run[1], ARMS[run[0]], args.n_eval) for run in runs}
        measured = {run: future.result() for run, future in futures.items()}
    arms = {}
    for arm in ARMS:
        rows = [measured[arm, seed] for seed in args.seeds]
        arms.update({f"{arm}, seed {seed}": {f: row[f] for f in FIGURES} for seed, row in zip(args.seeds, rows)})
        if len(rows) > 1:
            arms[f"{arm}, mean"] = mean_row(rows)
    arms["shipped (full preset)"] = shipped_figures(args.n_eval)
    budget = {"mode": args.mode, "steps": steps, "seeds": args.seeds, "n_eval": args.n_eval, "jobs": args.jobs,
              "torch_threads_per_run": 1,
              "wrong_weight": ARMS, "run_seconds": {f"{arm}, seed {seed}": measured[arm, seed]["seconds"] for arm, seed in runs}}
    path = ablations.save(NAME, QUESTION, arms, budget, time.perf_counter() - start, folder=args.out)
    print(ablations.table(ablations.load(NAME, folder=args.out)))
    print(f"written to {path}")
    return path


if __name__ == "__main__":
    main()

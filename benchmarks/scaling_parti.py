"""Parti in miniature: does the translator get better as it gets bigger, at the same data and steps?

Parti (Yu et al. 2022) is an encoder-decoder translator from caption to image tokens, like the course's
BART, scaled from 350M to 20B parameters; its paper's point is that quality keeps growing with scale.
Here the same recipe (``bart``'s ``full`` preset: denoising, then translation with token noise) trains
the translator at a few sizes, each from the same seed, on the same scenes and the same batches for the
same number of steps; only the width and depth differ. Each size is measured by ``bart.evaluate`` (one
sample per prompt, 200 canonical prompts of each split and kind), and its figures go to
``course_lib/data/ablation_parti_scaling.json`` with its parameter count. Notebook 10 plots held-out
accuracy against parameters and trains the smallest size live from the record's own settings.

    python -m benchmarks.scaling_parti                              # all sizes, one after the other
    python -m benchmarks.scaling_parti --sizes "d128, 3+3 layers"   # one size, added to the record
    python -m benchmarks.scaling_parti --steps 5 --out /tmp          # a quick try (saved only with --save)

On a 2-core CPU shared with other jobs (2026-12-06) the two small sizes took 8 and 30 minutes and the
two large ones were run as two processes side by side.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from course_lib import ablations, bart, vqgan
from course_lib.paths import DATA_DIR
from course_lib.train import seeded

NAME = "parti_scaling"
STEPS = 1500  # translation steps of every size
TRAINING = {"denoise_steps": 150, "n_train": 20_000}  # the rest is bart's full preset (token noise 0.2)
SIZES = {  # size -> the translator's width and depth (the rest of bart's full config)
    "d32, 1+1 layers": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 128},
    "d64, 2+2 layers": {"d_model": 64, "layers": 2, "heads": 4, "ffn_dim": 256},
    "d96, 3+3 layers": {"d_model": 96, "layers": 3, "heads": 4, "ffn_dim": 384},
    "d128, 3+3 layers": {"d_model": 128, "layers": 3, "heads": 4, "ffn_dim": 512},  # the shipped BART's size
}


def recipe(size: dict, steps: int) -> tuple[bart.TranslatorConfig, bart.BartTraining]:
    """bart's full preset at ``size``, trained for exactly ``steps`` steps on ``TRAINING``'s data."""
    config, training = bart.preset("full")
    return (dataclasses.replace(config, **size),
            dataclasses.replace(training, steps=steps, seconds=None, denoise_seconds=None, **TRAINING))


def run_size(size: dict, steps: int, image_tokenizer, n: int) -> dict[str, float]:
    """Train one size from the recipe's seed and measure it: parameters, seconds and ``bart.evaluate``."""
    config, training = recipe(size, steps)
    with seeded(training.seed):
        model = bart.build(config, image_tokenizer)
    start = time.perf_counter()
    model, _ = bart.train(model, training, image_tokenizer, progress=False)
    seconds = time.perf_counter() - start
    figures = bart.evaluate(model, image_tokenizer, n)
    figures["caption_acc_seen"] = (figures["caption_acc_seen_one"] + figures["caption_acc_seen_two"]) / 2
    figures["caption_acc_heldout"] = (figures["caption_acc_heldout_one"] + figures["caption_acc_heldout_two"]) / 2
    return {"parameters": float(sum(p.numel() for p in model.parameters())), "train_seconds": round(seconds, 1),
            **{k: round(v, 4) for k, v in figures.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES), metavar="SIZE",
                        help=f"the sizes to train and measure (default: all of {', '.join(SIZES)})")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--prompts", type=int, default=200, help="prompts per split and kind")
    parser.add_argument("--save", action="store_true", help="write the record even for a non-default --steps")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder of the record")
    args = parser.parse_args(argv)

    # each size is saved as soon as it is measured, beside the sizes an earlier run of the same budget
    # measured: one size at a time, or several processes with a size each, make the same record
    path = ablations.path(NAME, args.out)
    earlier = json.loads(path.read_text()) if path.exists() else None
    same_budget = earlier is not None and earlier["budget"]["steps"] == args.steps
    arms = dict(earlier["arms"]) if same_budget else {}
    seconds = earlier["measured"]["seconds"] if same_budget else 0.0
    image_tokenizer = vqgan.load_tokenizer()
    for name in args.sizes:
        start = time.perf_counter()
        measured = run_size(SIZES[name], args.steps, image_tokenizer, args.prompts)
        seconds += time.perf_counter() - start
        print(f"{name:18s} {measured}", flush=True)
        if args.steps == STEPS or args.save:
            earlier = json.loads(path.read_text()) if path.exists() else None  # another process may have saved
            if earlier is not None and earlier["budget"]["steps"] == args.steps:
                arms |= earlier["arms"]
            arms[name] = measured
            arms = {size: arms[size] for size in SIZES if size in arms}  # smallest first
            budget = {**(earlier["budget"] if earlier is not None and earlier["budget"]["steps"] == args.steps else {}),
                      "steps": args.steps, "training": {**TRAINING, "steps": args.steps}, "sizes": SIZES,
                      "recipe": "bart full preset", "prompts_per_split_and_kind": args.prompts}
            print("wrote", ablations.save(NAME, "does the translator get better with size, at the same data and "
                                                "steps (Parti's scaling, in miniature)?", arms, budget, seconds, args.out))
    if arms:
        record = {"arms": arms, "measured": {"machine": ablations.machine(), "date": "now", "seconds": seconds}}
        print(ablations.table(record, ["parameters", "caption_acc_seen", "caption_acc_heldout"]))


if __name__ == "__main__":
    main()

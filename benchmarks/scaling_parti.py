"""Parti in miniature: does the translator get better as it gets bigger, at the same data and steps?

Parti (Yu et al. 2022) is an encoder-decoder translator from caption to image tokens, like the course's
BART, scaled from 350M to 20B parameters; its paper's point is that quality keeps growing with scale.
Here the same recipe (``bart``'s ``full`` preset: denoising, then translation with token noise) trains
the translator at a few sizes, each from the same seed, on the same scenes and the same batches for the
same number of steps; only the width and depth differ. Each size is measured by ``bart.evaluate`` (one
sample per prompt, 200 canonical prompts of each split and kind), and its figures go to
``course_lib/data/ablation_parti_scaling.json`` with its parameter count. Notebook 10 plots held-out
accuracy against parameters and trains the smallest size live from the record's own settings.

    python -m benchmarks.scaling_parti              # ~1 h on 2 shared CPU cores; writes the record
    python -m benchmarks.scaling_parti --steps 5    # a quick try (does not overwrite unless --save)
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from course_lib import ablations, bart, vqgan
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
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--prompts", type=int, default=200, help="prompts per split and kind")
    parser.add_argument("--save", action="store_true", help="write the record even for a non-default --steps")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    image_tokenizer = vqgan.load_tokenizer()
    arms = {}
    for name, size in SIZES.items():
        arms[name] = run_size(size, args.steps, image_tokenizer, args.prompts)
        print(f"{name:18s} {arms[name]}", flush=True)
    seconds = time.perf_counter() - start
    budget = {"steps": args.steps, "training": {**TRAINING, "steps": args.steps}, "sizes": SIZES,
              "recipe": "bart full preset", "prompts_per_split_and_kind": args.prompts}
    record = {"arms": arms, "measured": {"machine": ablations.machine(), "date": "now", "seconds": seconds}}
    print(ablations.table(record, ["parameters", "caption_acc_seen", "caption_acc_heldout"]))
    if args.steps == STEPS or args.save:
        print("wrote", ablations.save(NAME, "does the translator get better with size, at the same data and steps "
                                            "(Parti's scaling, in miniature)?", arms, budget, seconds))


if __name__ == "__main__":
    main()

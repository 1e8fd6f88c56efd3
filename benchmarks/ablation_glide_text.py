"""GLIDE's own caption transformer or the course's frozen CLIP text tower? One switch, both measured.

``GlideConfig.text`` picks where the caption transformer's weights come from: ``"own"`` (random, trained
with the U-Net, as GLIDE) or ``"clip"`` (the shipped CLIP's text tower, frozen, as DALL·E 2 and Imagen
later did with theirs). Both arms train the same U-Net on the same data, seed, batches, caption dropout
and number of steps (the workshop recipe with ``--steps``), and are measured the same way: the
oracle's caption accuracy of one sample per prompt at the default guidance, on ``--prompts``
canonical prompts of each split and kind (``glide.evaluate``).

    python -m benchmarks.ablation_glide_text               # ~40 min on 2 busy CPU cores
    python -m benchmarks.ablation_glide_text --steps 5     # a quick try (not saved unless --save)
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Callable

from course_lib import ablations, glide
from course_lib.train import seeded

STEPS = 1500
PROMPTS = 100
ARMS = {"own (GLIDE)": "own", "CLIP, frozen": "clip"}


def run_arm(text: str, steps: int, prompts: int, preset: Callable = glide.preset, mode: str = "workshop",
            **config_changes) -> dict[str, float]:
    """One arm: ``preset(mode)``'s recipe with caption encoder ``text`` (and ``config_changes``) trained
    for ``steps``, measured by ``glide.evaluate`` on ``prompts`` prompts per split and kind."""
    config, training = preset(mode)
    config = dataclasses.replace(config, text=text, **config_changes)
    training = dataclasses.replace(training, steps=steps, seconds=None)
    with seeded(training.seed):
        model = glide.build(config)
    model, history = glide.train(model, training, progress=False)
    figures = glide.evaluate(model, prompts)
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"train_seconds": round(history.seconds, 1), "trained_parameters": trained,
            "final_loss": round(history.last(100)["loss"], 4), **{k: round(v, 4) for k, v in figures.items()}}


def compare(argv: list[str] | None, record: str, question: str, arms: dict[str, dict], preset: Callable, mode: str,
            steps: int, prompts: int, description: str) -> None:
    """The command line of a caption-encoder ablation: train and measure each of ``arms`` (name -> the
    config fields it changes) with ``run_arm`` on ``preset(mode)``'s recipe, print each, and save the
    record ``record`` when run at the default ``steps`` and ``prompts`` (or with ``--save``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--prompts", type=int, default=prompts)
    parser.add_argument("--save", action="store_true", help="write the record even for a non-default budget")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    measured = {}
    for name, changes in arms.items():
        measured[name] = run_arm(steps=args.steps, prompts=args.prompts, preset=preset, mode=mode, **changes)
        print(name, measured[name], flush=True)
    if args.save or (args.steps == steps and args.prompts == prompts):
        _, training = preset(mode)
        path = ablations.save(record, question, measured,
                              {"steps": args.steps, "batch_size": training.batch_size, "prompts_per_split_and_kind":
                               args.prompts, "guidance": glide.DEFAULT_SCALE, "sampler": f"DDIM, {glide.DEFAULT_STEPS} steps",
                               "recipe": f"{preset.__module__.rsplit('.', 1)[-1]} {mode} preset"}, time.perf_counter() - start)
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    compare(argv, "glide_text", "GLIDE's own caption transformer or the frozen CLIP text tower?",
            {name: {"text": text} for name, text in ARMS.items()}, glide.preset, "workshop", STEPS, PROMPTS,
            __doc__.splitlines()[0])


if __name__ == "__main__":
    main()

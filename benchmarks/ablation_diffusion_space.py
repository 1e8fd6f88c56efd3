"""Pixels or the VQ-GAN's latent? The same diffusion recipe in both spaces, for the same seconds.

``course_lib.diffusion`` diffuses in the shipped VQ-GAN's latent by default because a CPU cannot
afford a 32×32 U-Net; this measures what that choice buys at a fixed budget of wall-clock seconds
(what a CPU user has), not of steps: each arm trains the workshop recipe (same data, seed, batch,
learning rate, schedule) until ``--seconds`` run out, then draws ``--samples`` pictures with DDIM (50
steps), judged by the oracle as ``diffusion.evaluate`` does. The steps each arm reached are recorded
beside its figures. Machine load changes the steps a second buys, so both arms run in the same
process, one after the other.

    python -m benchmarks.ablation_diffusion_space                 # ~25 min on 2 CPU cores
    python -m benchmarks.ablation_diffusion_space --seconds 20    # a quick try (not saved unless --save)
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from course_lib import ablations, diffusion
from course_lib.train import seeded

SECONDS = 600.0  # training seconds per arm
SAMPLES = 500
# arm -> (changes to the workshop config, a cap on steps well above what the seconds allow: the learning
# rate warms up over 2 % of the cap, so it must not be far above what the arm reaches)
ARMS = {
    "latent 8×8 (U-Net 32/64)": ({}, 4000),
    "pixels 32×32 (U-Net 16/32/64)": ({"space": "pixel", "channels": (16, 32, 64), "attention": (False, False, True)}, 1000),
}


def run_arm(changes: dict, steps: int, seconds: float, samples: int) -> dict[str, float]:
    config, training = diffusion.preset("workshop")
    config = dataclasses.replace(config, **changes)
    training = dataclasses.replace(training, seconds=seconds, steps=steps)
    with seeded(training.seed):
        model = diffusion.build(config)
    model, history = diffusion.train(model, training, progress=False)
    figures = diffusion.evaluate(model, samples)
    return {"steps": history.steps, "train_seconds": round(history.seconds, 1),
            "seconds_per_step": round(history.seconds / history.steps, 3),
            "unet_parameters": sum(p.numel() for p in model.unet.parameters()),
            **{k: round(v, 4) for k, v in figures.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--save", action="store_true", help="write the record even for a non-default budget")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    arms = {}
    for name, (changes, steps) in ARMS.items():
        arms[name] = run_arm(changes, steps, args.seconds, args.samples)
        print(name, arms[name], flush=True)
    if args.save or (args.seconds == SECONDS and args.samples == SAMPLES):
        path = ablations.save("diffusion_space", "what does diffusing in the VQ-GAN's latent buy over pixels, "
                              "at the same training seconds?", arms,
                              {"seconds_per_arm": args.seconds, "samples": args.samples, "sampler": "DDIM, 50 steps",
                               "recipe": "diffusion workshop preset, training seconds as above"}, time.perf_counter() - start)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

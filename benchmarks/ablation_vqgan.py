"""What do the VQ-GAN's discriminator and perceptual loss add? An ablation on the course's own recipe.

Notebook 06 fine-tunes the shipped VQ-VAE into a VQ-GAN with two extra ingredients (Esser et al.
2021): an adversarial term from a patch discriminator, weighted by ``disc_weight`` × the adaptive λ,
and a perceptual (Laplacian-pyramid) loss. Every arm here starts from the same shipped VQ-VAE
(``course_lib/data/vqvae.*``), builds its discriminator under the same seed, sees the same batches
in the same order and trains for the same number of steps with ``vqgan.build`` / ``vqgan.train``;
only the switched ingredient differs. A second seed of the recipe shows how far two runs of the same
recipe land apart, the yardstick for reading the other differences. Each arm is measured by
``vqvae.evaluate`` on the held-out test pictures, beside the shipped VQ-VAE and VQ-GAN.

    python -m benchmarks.ablation_vqgan            # ~10 min on 2 CPU cores; writes ablation_vqgan.json
    python -m benchmarks.ablation_vqgan --steps 5  # a quick try (does not overwrite unless --save)
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from course_lib import ablations, vqgan, vqvae
from course_lib.train import seeded

FIGURES = ("recon_agreement", "code_usage", "perplexity", "sharpness", "mse")
STEPS = 473  # the steps the shipped VQ-GAN's 540-s `full` run reached (course_lib/data/vqgan.json)

ARMS = {  # arm -> what it changes in the `full` recipe
    "recipe": {},
    "recipe, seed 1": {"seed": 1},
    "disc_weight=0": {"disc_weight": 0.0},
    "perceptual off": {"perceptual_weight": 0.0},
    "both off": {"disc_weight": 0.0, "perceptual_weight": 0.0},
}


def run_arm(base: vqvae.VQVAE, changes: dict, steps: int) -> vqgan.VQGAN:
    """The `full` recipe with ``changes``, fine-tuned from ``base`` for exactly ``steps`` steps."""
    config, training = vqgan.preset("full")
    training = dataclasses.replace(training, steps=steps, seconds=None, **changes)
    with seeded(training.seed):
        model = vqgan.build(config, start_from=base)
    return vqgan.train(model, training, progress=False)[0]


def measure(model, images) -> dict[str, float]:
    return {k: round(float(v), 5) for k, v in vqvae.evaluate(model, images).items() if k in FIGURES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--save", action="store_true", help="write the record even for a non-default --steps")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    base = vqvae.VQVAE.from_checkpoint("vqvae")
    images = vqvae.test_images(1000)
    arms = {"VQ-VAE (shipped start)": measure(base, images),
            "VQ-GAN (shipped)": measure(vqgan.load_tokenizer(), images)}
    for name, changes in ARMS.items():
        began = time.perf_counter()
        arms[name] = measure(run_arm(base, changes, args.steps), images)
        print(f"{name:24s} {time.perf_counter() - began:6.0f} s  {arms[name]}", flush=True)
    seconds = time.perf_counter() - start
    _, training = vqgan.preset("full")
    budget = {"steps": args.steps, "batch_size": training.batch_size, "n_train": training.n_train,
              "start_from": "vqvae (shipped)", "test_pictures": len(images),
              "arms": {name: changes or "the full preset" for name, changes in ARMS.items()}}
    record = {"arms": arms, "measured": {"machine": ablations.machine(), "date": "now", "seconds": seconds}}
    print(ablations.table(record))
    if args.steps == STEPS or args.save:
        print("wrote", ablations.save("vqgan", "what do the discriminator and the perceptual loss add to the VQ-GAN?",
                                      arms, budget, seconds))


if __name__ == "__main__":
    main()

"""The course's GAN recipe against the standard stabilisers: plain DCGAN, spectral norm, WGAN-GP.

Notebook 01 trains the course's own recipe (packing, instance noise, latent islands with restarts:
``course_lib.gan``). A learner will meet other cures elsewhere, above all spectral normalisation of D
(Miyato et al. 2018) and the Wasserstein loss with a gradient penalty (WGAN-GP, Gulrajani et al.
2017), both switches of ``course_lib.gan`` (``course_lib.gan_stabilisers``). Every arm here is the
`workshop` preset with one set of switches, built under the same seed and trained by ``gan.train`` on
the same pictures in the same order for the same number of steps (no clock, so a busy machine changes
the seconds, not the result); each is measured by ``gan.evaluate`` (validity and coverage of 1,000
samples from the same fixed noise). "plain DCGAN" turns the recipe's three changes off; the
stabilisers are tried on it and on the recipe. A second seed of the recipe shows how far two runs of
the same recipe land apart, the yardstick for reading the other differences. Every arm keeps
DCGAN's Adam (2e-4, β₁ 0.5) and one D step per G step (the WGAN-GP paper takes five critic steps
and Adam with β₁ 0).

    python -m benchmarks.ablation_gan_stabilisers             # ~15 min on 2 CPU cores; writes the record
    python -m benchmarks.ablation_gan_stabilisers --steps 20  # a quick try (does not overwrite unless --save)
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from course_lib import ablations, gan
from course_lib.train import seeded

STEPS = 4000  # the workshop preset's steps (notebook 01 reaches 3,800-4,000 of them in its 150 s)
N_SAMPLES = 1000

PLAIN = {"pack": 1, "islands": 0, "instance_noise": 0.0, "restart_every": 0}  # the recipe's three changes off
SPECTRAL = {"d_norm": "spectral"}
WGAN_GP = {"d_norm": "none", "loss": "wgan-gp"}  # the penalty needs a D without batch norm
ARMS = {  # arm -> what it changes in the workshop preset (config and training fields alike)
    "recipe": {},
    "recipe, seed 1": {"seed": 1},
    "plain DCGAN": PLAIN,
    "plain + spectral norm": {**PLAIN, **SPECTRAL},
    "plain + WGAN-GP": {**PLAIN, **WGAN_GP},
    "recipe + spectral norm": SPECTRAL,
    "recipe + WGAN-GP": WGAN_GP,
}


def split(changes: dict) -> tuple[dict, dict]:
    """``changes`` divided into the fields of ``GANConfig`` and those of ``GANTraining``."""
    config_fields = {f.name for f in dataclasses.fields(gan.GANConfig)}
    return ({k: v for k, v in changes.items() if k in config_fields},
            {k: v for k, v in changes.items() if k not in config_fields})


def run_arm(changes: dict, steps: int) -> tuple[gan.GAN, float]:
    """The workshop preset with ``changes``, trained for exactly ``steps`` steps; the model and its seconds."""
    config, training = gan.preset("workshop")
    config_changes, training_changes = split(changes)
    config = dataclasses.replace(config, **config_changes)
    training = dataclasses.replace(training, steps=steps, seconds=None, **training_changes)
    with seeded(training.seed):  # as ``Stage.fit`` builds it: weights and islands from the run's seed
        model = gan.GAN(config)
    model, history = gan.train(model, training, progress=False)
    return model, history.seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--save", action="store_true", help="write the record even for a non-default --steps")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    arms = {}
    for name, changes in ARMS.items():
        model, seconds = run_arm(changes, args.steps)
        arms[name] = {**{k: round(v, 4) for k, v in gan.evaluate(model, N_SAMPLES).items()},
                      "train_seconds": round(seconds, 1)}
        print(f"{name:24s} {arms[name]}", flush=True)
    seconds = time.perf_counter() - start
    config, training = gan.preset("workshop")
    budget = {"steps": args.steps, "batch_size": training.batch_size, "n_train": training.n_train,
              "width": config.width, "samples": N_SAMPLES, "preset": "workshop, no clock",
              "arms": {name: changes or "the workshop preset" for name, changes in ARMS.items()}}
    record = {"arms": arms, "measured": {"machine": ablations.machine(), "date": "now", "seconds": seconds}}
    print(ablations.table(record))
    if args.steps == STEPS or args.save:
        print("wrote", ablations.save("gan_stabilisers", "what do spectral norm and WGAN-GP do against the course's "
                                      "GAN recipe, on the same oracle figures?", arms, budget, seconds))


if __name__ == "__main__":
    main()

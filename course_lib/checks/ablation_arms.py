"""Self-checks for the experiment exercises of notebooks 01, 02 and 06: re-running one arm of a
shipped ablation (``course_lib.ablations``) live.

An ablation is fair only if its arms differ in the one ingredient switched: the same first weights
(built under the training seed), the same batches, exactly the same number of steps (the clock
lifted, so a slow machine cannot cut one arm short), as the scripts in ``benchmarks/`` run them.
Each exercise asks for the function that trains one arm; its check trains the learner's arm and the
reference arm of a tiny preset for a few steps and compares every weight, so a change put in the wrong
place, a model built outside the seed or a step budget not kept shows as weights that differ. The
notebook then runs the learner's function at the workshop budget and reads the oracle's figure
beside the record's.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from torch import nn

from ..train import seeded
from .harness import Hint, attempt, call


def _differs(got: nn.Module, expected: nn.Module) -> str | None:
    """What differs between two trained models' weights and buffers, or None when nothing does."""
    if not isinstance(got, nn.Module):
        return f"it returned {type(got).__name__}; expected the trained model"
    mine, theirs = got.state_dict(), expected.state_dict()
    if mine.keys() != theirs.keys():
        extra, missing = sorted(mine.keys() - theirs.keys()), sorted(theirs.keys() - mine.keys())
        return f"its model has other parts (extra {extra[:2]}, missing {missing[:2]}): is the change in the model's config?"
    for name, value in theirs.items():
        if value.shape != mine[name].shape or not torch.allclose(mine[name].float(), value.float(), atol=1e-6):
            return (f"its weights differ from the reference arm's, first at {name!r}: "
                    "same config and change, built under the training seed, exactly the steps asked for?")
    return None


def _compare_arms(name: str, fn: Callable, reference: Callable, cases: list[tuple[str, tuple]]) -> bool:
    def run():
        for what, args in cases:
            got = call(fn, *args, call=f"{name}({what})")
            problem = _differs(got, reference(*args))
            if problem:
                raise Hint(f"for {what}: {problem}")
        return f"the same weights as the reference arm in {len(cases)} runs"

    return attempt(name, run)


# --- notebook 01: the course's GAN recipe against the standard stabilisers ------------------------

def _gan_arm(changes: dict, steps: int, mode: str, device: str):
    from .. import gan

    config, training = gan.preset(mode)
    config_fields = {f.name for f in dataclasses.fields(config)}
    config = dataclasses.replace(config, **{k: v for k, v in changes.items() if k in config_fields})
    training = dataclasses.replace(training, steps=steps, seconds=None,
                                   **{k: v for k, v in changes.items() if k not in config_fields})
    with seeded(training.seed):
        model = gan.GAN(config).to(device)
    return gan.train(model, training, progress=False)[0]


def gan_arm(fn: Callable[..., nn.Module]) -> bool:
    """Notebook 01, exercise 4: ``fn(changes, steps, mode, device)`` trains the ``mode`` preset with
    ``changes`` (fields of ``GANConfig`` or ``GANTraining``) for exactly ``steps`` steps on ``device``, as
    ``benchmarks/ablation_gan_stabilisers.py`` does, and returns the model. Checked on the CPU, where
    the reference arm trains (a GPU's arithmetic would move the weights by more than float noise)."""
    cases = [(f"changes {changes}, steps {steps}, mode 'tiny', device 'cpu'", (changes, steps, "tiny", "cpu"))
             for changes, steps in (({}, 2), ({"d_norm": "spectral"}, 3), ({"d_norm": "none", "loss": "wgan-gp"}, 2),
                                    ({"seed": 1, "pack": 1}, 2))]
    return _compare_arms("gan_arm", fn, _gan_arm, cases)


# --- notebook 02: GAN-CLS with and without the wrong pair ------------------------------------------

def _text_gan_arm(wrong_weight: float, steps: int, seed: int, mode: str, device: str):
    from .. import text_gan

    config, training = text_gan.preset(mode)
    training = dataclasses.replace(training, steps=steps, seconds=None, seed=seed, wrong_weight=wrong_weight)
    with seeded(training.seed):
        model = text_gan.build(config).to(device)
    return text_gan.train(model, training, progress=False)[0]


def text_gan_arm(fn: Callable[..., nn.Module]) -> bool:
    """Notebook 02, exercise 4: ``fn(wrong_weight, steps, seed, mode, device)`` trains GAN-CLS's ``mode``
    preset with that weight on the wrong pair for exactly ``steps`` steps on ``device``, as
    ``benchmarks/ablation_gan_cls.py`` does, and returns the model (checked on the CPU)."""
    cases = [(f"wrong_weight {w}, steps {steps}, seed {seed}, mode 'tiny', device 'cpu'", (w, steps, seed, "tiny", "cpu"))
             for w, steps, seed in ((0.5, 2, 0), (0.0, 3, 0), (0.0, 2, 1))]
    return _compare_arms("text_gan_arm", fn, _text_gan_arm, cases)


# --- notebook 06: the VQ-GAN with and without its discriminator -----------------------------------

def _vqgan_arm(base, changes: dict, steps: int, mode: str, device: str):
    from .. import vqgan

    config, training = vqgan.preset(mode)
    training = dataclasses.replace(training, steps=steps, seconds=None, **changes)
    with seeded(training.seed):
        model = vqgan.build(config, start_from=base).to(device)
    return vqgan.train(model, training, progress=False)[0]


def vqgan_arm(fn: Callable[..., nn.Module]) -> bool:
    """Notebook 06, exercise 4: ``fn(base, changes, steps, mode, device)`` fine-tunes the VQ-VAE ``base``
    into a VQ-GAN with the ``mode`` preset and ``changes`` (fields of ``VQGANTraining``) for exactly
    ``steps`` steps on ``device``, as ``benchmarks/ablation_vqgan.py`` does, and returns the model
    (checked on the CPU)."""
    from .. import vqvae

    with seeded(0):
        base = vqvae.VQVAE(_tiny_start())
    cases = [(f"a tiny VQ-VAE, changes {changes}, steps {steps}, mode 'tiny', device 'cpu'",
              (base, changes, steps, "tiny", "cpu"))
             for changes, steps in (({}, 2), ({"disc_weight": 0.0}, 3), ({"perceptual_weight": 0.0, "seed": 1}, 2))]
    return _compare_arms("vqgan_arm", fn, _vqgan_arm, cases)


def _tiny_start():
    """The tiny VQ-GAN preset's tokenizer sizes, as a VQ-VAE config (the start of the tiny arms)."""
    from .. import vqgan, vqvae

    config = vqgan.preset("tiny").config
    return vqvae.VQVAEConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(vqvae.VQVAEConfig)})

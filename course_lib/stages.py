"""Every model the course trains, in one table, and the one recipe that trains and ships each.

A *stage* is one checkpoint of ``course_lib/data`` and the lesson that builds it. Every stage module
has the same parts, so a new one (Part II adds several) copies the shape, not whichever stage it
found first:

- presets by mode: ``tiny`` (unit tests, well under a second), ``smoke`` (CI's notebook runs,
  seconds), ``workshop`` (a laptop, minutes), ``full`` (the shipped checkpoint);
- two configs per preset, ``config, training = module.preset(mode)`` (a ``train.Preset``): the model
  config (its architecture: what its constructor builds, saved with the checkpoint) and the training
  config (a ``train.Training``: budget, learning rate, batch, data, seed; recorded beside it);
- ``make_step(model, training, ...) -> step(batch) -> dict of losses``, public, for ``train.fit``:
  the lesson's training step, which ``train`` and the benchmark's timing both run;
- ``train(model, training, ...) -> (model, history)``: trains a model built from the config, seeded
  by ``training.seed``, leaving the caller's random state alone (``train.seeded``);
- ``evaluate(model, ...) -> dict`` of the benchmark's metric names, on the fixed sets of
  ``eval_sets``.

``STAGES`` says for each stage which module and class it is, which other stages' checkpoints its
training builds on (``needs``), what ``evaluate`` returns (``metrics``), and how to build, train and
measure its preset (``Stage.fit`` builds and trains one). ``train_and_save`` is the shipping recipe (train, evaluate, print, save) that
``python -m course_lib train STAGE`` runs; ``benchmarks/stages.py`` reads the same table.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Mapping

from torch import nn

from . import (autoencoder, bart, checkpoints, clip, dalle, device, diffusion, gan, glide, imagen, text_gan, unclip,
               vqgan, vqvae)
from .train import History, Preset, Training, seeded

MODES = ("tiny", "smoke", "workshop", "full")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One trainable stage. ``preset(mode)`` is its (config, training) pair; ``build(config, needs)``
    makes a fresh model, where ``needs`` maps each name of ``needs`` to the path of that stage's
    checkpoint; ``train(model, training, needs)`` is its module's ``train``; ``measure(model,
    training, needs)`` its module's ``evaluate``."""

    name: str
    module: ModuleType
    model: type[nn.Module]
    metrics: tuple[str, ...]
    preset: Callable[[str], Preset]
    build: Callable[[object, Mapping[str, Path]], nn.Module]
    train: Callable[[nn.Module, Training, Mapping[str, Path]], tuple[nn.Module, History]]
    measure: Callable[[nn.Module, Training, Mapping[str, Path]], dict[str, float]]
    needs: tuple[str, ...] = ()

    def fit(self, mode: str, needs: Mapping[str, Path]) -> tuple[nn.Module, Training, History]:
        """Build the ``mode`` preset (the weights seeded by ``training.seed``), put it on
        ``course_lib.device()`` (the GPU when there is one) and train it: (model in eval mode, its
        training config, its history)."""
        config, training = self.preset(mode)
        with seeded(training.seed):
            model = self.build(config, needs).to(device())
        model, history = self.train(model, training, needs)
        return model, training, history


def _train(module: ModuleType) -> Callable:
    """A module's ``train`` for a stage that needs nothing else."""
    return lambda model, training, needs: module.train(model, training)


def _text_gan_build(config, needs):
    return text_gan.build(text_gan.with_text_sizes_of(config, needs["clip"]), needs["clip"])


def _bart_train(model, training, needs):
    return bart.train(model, training, vqgan.load_tokenizer(needs["vqgan"]).to(model.device))


def _bart_measure(model, training, needs):
    return bart.evaluate(model, vqgan.load_tokenizer(needs["vqgan"]).to(model.device))


def _dalle_train(model, training, needs):
    return dalle.train(model, training, vqgan.load_tokenizer(needs["vqgan"]).to(model.device))


def _dalle_measure(model, training, needs):
    return dalle.evaluate(model, vqgan.load_tokenizer(needs["vqgan"]).to(model.device))


def _autoencoder(name: str, model: type[nn.Module], metrics: tuple[str, ...]) -> Stage:
    return Stage(name, autoencoder, model, metrics, lambda mode: autoencoder.preset(name, mode),
                 lambda config, needs: autoencoder.build(name, config), _train(autoencoder),
                 lambda model, training, needs: autoencoder.evaluate(model, middle_only=training.middle_only))


_TOKENIZER_METRICS = ("recon_agreement", "code_usage", "perplexity", "sharpness", "sharpness_of_inputs", "mse")

STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("gan", gan, gan.GAN, ("validity", "coverage"), gan.preset, lambda config, needs: gan.GAN(config),
          _train(gan), lambda model, training, needs: gan.evaluate(model)),
    Stage("text_gan", text_gan, text_gan.TextGAN, ("caption_acc_seen", "caption_acc_heldout"), text_gan.preset,
          _text_gan_build, _train(text_gan), lambda model, training, needs: text_gan.evaluate(model, kind=training.kind),
          needs=("clip",)),
    _autoencoder("ae", autoencoder.Autoencoder, ("recon_agreement", "box_validity")),
    _autoencoder("ae2d", autoencoder.Autoencoder, ("recon_agreement", "grid_validity")),
    _autoencoder("vae", autoencoder.VAE, ("recon_agreement", "prior_validity", "box_validity")),
    _autoencoder("vae2d", autoencoder.VAE, ("recon_agreement", "prior_validity", "grid_validity")),
    _autoencoder("cvae", autoencoder.ConditionalVAE, ("caption_acc_seen",)),
    Stage("vqvae", vqvae, vqvae.VQVAE, _TOKENIZER_METRICS, vqvae.preset, lambda config, needs: vqvae.VQVAE(config),
          _train(vqvae), lambda model, training, needs: vqvae.evaluate(model, vqvae.test_images())),
    Stage("vqgan", vqgan, vqgan.VQGAN, _TOKENIZER_METRICS, vqgan.preset,
          lambda config, needs: vqgan.build(config, start_from=vqvae.VQVAE.from_checkpoint(needs["vqvae"])),
          _train(vqgan), lambda model, training, needs: vqgan.evaluate(model, vqvae.test_images()), needs=("vqvae",)),
    Stage("bart", bart, bart.CaptionToImageBart,
          tuple(f"caption_acc_{tag}_{kind}" for tag in ("seen", "heldout") for kind in ("one", "two")), bart.preset,
          lambda config, needs: bart.build(config, vqgan.load_tokenizer(needs["vqgan"]).to(device())),
          _bart_train, _bart_measure, needs=("vqgan",)),
    Stage("clip", clip, clip.ShapesCLIP, ("zeroshot_color", "zeroshot_shape", "retrieval_r1"), clip.preset,
          lambda config, needs: clip.ShapesCLIP(config), _train(clip),
          lambda model, training, needs: clip.evaluate(model)),
    Stage("dalle", dalle, dalle.CaptionToImageGPT,
          tuple(f"caption_acc_{tag}_{kind}" for tag in ("seen", "heldout") for kind in ("one", "two")), dalle.preset,
          lambda config, needs: dalle.build(config, vqgan.load_tokenizer(needs["vqgan"]).to(device())),
          _dalle_train, _dalle_measure, needs=("vqgan",)),
    Stage("diffusion", diffusion, diffusion.Diffusion, ("validity", "coverage", "sharpness", "seconds_per_picture"),
          diffusion.preset, lambda config, needs: diffusion.build(config, needs["vqgan"]), _train(diffusion),
          lambda model, training, needs: diffusion.evaluate(model), needs=("vqgan",)),
    Stage("glide", glide, glide.Glide,
          tuple(f"caption_acc_{tag}_{kind}" for tag in ("seen", "heldout") for kind in ("one", "two")), glide.preset,
          lambda config, needs: glide.build(config, needs["vqgan"], needs["clip"]), _train(glide),
          lambda model, training, needs: glide.evaluate(model), needs=("vqgan", "clip")),
    Stage("unclip", unclip, unclip.UnCLIP,
          tuple(f"{prior}caption_acc_{tag}_{kind}" for prior in ("", "regression_") for tag in ("seen", "heldout")
                for kind in ("one", "two")), unclip.preset,
          lambda config, needs: unclip.build(config, needs["vqgan"], needs["clip"]), _train(unclip),
          lambda model, training, needs: unclip.evaluate(model), needs=("vqgan", "clip")),
    Stage("imagen", imagen, glide.Glide,
          tuple(f"caption_acc_{tag}_{kind}" for tag in ("seen", "heldout") for kind in ("one", "two")), imagen.preset,
          lambda config, needs: glide.build(config, needs["vqgan"], needs["clip"], needs["bart"]), _train(imagen),
          lambda model, training, needs: imagen.evaluate(model), needs=("vqgan", "clip", "bart")),
)}


def preset(name: str, mode: str) -> Preset:
    """Stage ``name``'s (config, training) in ``mode``; a clear error for an unknown stage or mode."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; choose one of: {', '.join(STAGES)}")
    return STAGES[name].preset(mode)


def load(name: str, directory: str | Path, device=None) -> nn.Module:
    """Checkpoint ``name`` of ``directory`` as the model class stage ``name`` names (on ``device``, when
    given): how the benchmarks and the leaderboard open a folder of checkpoints by stage name."""
    model = STAGES[name].model.from_checkpoint(Path(directory) / name)
    return model if device is None else model.to(device)


def fit_preset(name: str, mode: str) -> nn.Module:
    """Stage ``name``'s ``mode`` preset built and trained (``Stage.fit``) on the shipped checkpoints it
    builds on, then put on the CPU as a loaded checkpoint is: what a notebook trains when a shipped
    checkpoint is missing (``checkpoints.load_or_train(..., train=lambda: fit_preset(name, MODE))``)."""
    stage = STAGES[name]
    return stage.fit(mode, {need: checkpoints.shipped(need) for need in stage.needs})[0].cpu()


TRAINED_FIRST = ("vqvae",)  # a vqgan fine-tunes the vqvae of its own run, never a shipped one


def needed_checkpoints(stage: Stage, mode: str, out_dir: Path) -> dict[str, Path]:
    """Each checkpoint ``stage`` builds on: the one in ``out_dir`` when it was trained there, else the
    shipped one; a need in ``TRAINED_FIRST`` missing from ``out_dir`` is trained there first."""
    found = {}
    for name in stage.needs:
        local = out_dir / f"{name}.safetensors"
        if name in TRAINED_FIRST and not local.exists():
            train_and_save(name, mode, out_dir)
        found[name] = local if local.exists() else checkpoints.shipped(name)
    return found


def train_and_save(name: str, mode: str, out_dir: str | Path) -> Path:
    """Train stage ``name``'s ``mode`` preset, evaluate it, print its figures and save it as
    ``out_dir/NAME.safetensors`` (+ ``.json`` with the config, mode, steps, seconds and figures)."""
    stage, out_dir = STAGES[name], Path(out_dir)
    needs = needed_checkpoints(stage, mode, out_dir)
    start = time.perf_counter()
    model, training, history = stage.fit(mode, needs)
    seconds = round(time.perf_counter() - start, 1)
    figures = {k: round(v, 4) for k, v in stage.measure(model, training, needs).items()}
    print(f"{name} ({mode}): {history.steps} steps in {seconds:.0f} s, {figures}")
    stride = max(1, history.steps // 100)
    return checkpoints.save(model, out_dir / name, model.config, training, mode=mode, steps=history.steps, seconds=seconds,
                            device=str(device()), losses={k: v[::stride] for k, v in history.losses.items()},
                            **figures)

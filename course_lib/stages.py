"""Every model the course trains, in one table, and the one recipe that trains and ships each.

A *stage* is one checkpoint of ``course_lib/data`` and the lesson that builds it. Every stage module
has the same parts, so a new one (Part II adds several) copies the shape, not whichever stage it
found first:

- presets by mode: ``tiny`` (unit tests, well under a second), ``smoke`` (CI's notebook runs,
  seconds), ``workshop`` (a laptop, minutes), ``full`` (the shipped checkpoint);
- ``make_step(model, ...) -> step(batch) -> dict of losses``, public, for ``train.fit``: the lesson's
  training step, which ``train`` and the benchmark's timing both run;
- ``train(...) -> (model, history)``, seeded by the config's ``seed``, leaving the caller's random
  state alone (``train.seeded``);
- ``evaluate(model, ...) -> dict`` of the benchmark's metric names, on the fixed sets of
  ``eval_sets``.

``STAGES`` says for each stage which module and class it is, which other stages' checkpoints its
training builds on (``needs``), what ``evaluate`` returns (``metrics``), and how to train its preset
(``fit``). ``train_and_save`` is the shipping recipe (train, evaluate, print, save) that
``python -m course_lib train STAGE`` runs; ``benchmarks/stages.py`` reads the same table.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Mapping

from torch import nn

from . import autoencoder, bart, checkpoints, clip, device, gan, text_gan, vqgan, vqvae
from .train import History

MODES = ("tiny", "smoke", "workshop", "full")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One trainable stage: ``fit(mode, needs)`` trains its preset, where ``needs`` maps each name of
    ``needs`` to the path of that stage's checkpoint; ``measure(model, needs)`` is ``evaluate``."""

    name: str
    module: ModuleType
    model: type[nn.Module]
    metrics: tuple[str, ...]
    fit: Callable[[str, Mapping[str, Path]], tuple[nn.Module, History]]
    measure: Callable[[nn.Module, Mapping[str, Path]], dict[str, float]]
    needs: tuple[str, ...] = ()


def _text_gan(mode: str, needs: Mapping[str, Path]):
    config = text_gan.with_text_sizes_of(text_gan.preset(mode), needs["clip"])
    return text_gan.train(config, clip_checkpoint=needs["clip"])


def _vqgan(mode: str, needs: Mapping[str, Path]):
    start = vqvae.VQVAE.from_checkpoint(needs["vqvae"])
    return vqgan.train(vqgan.config_from(start.config, mode), start_from=start)


def _bart(mode: str, needs: Mapping[str, Path]):
    tokenizer = vqgan.load_tokenizer(needs["vqgan"]).to(device())
    return bart.train(bart.build(bart.PRESETS[mode], tokenizer), tokenizer, mode)


def _autoencoder(name: str, model: type[nn.Module], metrics: tuple[str, ...]) -> Stage:
    return Stage(name, autoencoder, model, metrics, lambda mode, needs: autoencoder.train(autoencoder.build(name, mode)),
                 lambda model, needs: autoencoder.evaluate(model))


_TOKENIZER_METRICS = ("recon_agreement", "code_usage", "perplexity", "sharpness", "sharpness_of_inputs", "mse")

STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("gan", gan, gan.GAN, ("validity", "coverage"),
          lambda mode, needs: gan.train(gan.preset(mode)), lambda model, needs: gan.evaluate(model)),
    Stage("text_gan", text_gan, text_gan.TextGAN, ("caption_acc_seen", "caption_acc_heldout"),
          _text_gan, lambda model, needs: text_gan.evaluate(model), needs=("clip",)),
    _autoencoder("ae", autoencoder.Autoencoder, ("recon_agreement", "box_validity")),
    _autoencoder("ae2d", autoencoder.Autoencoder, ("recon_agreement", "grid_validity")),
    _autoencoder("vae", autoencoder.VAE, ("recon_agreement", "prior_validity", "box_validity")),
    _autoencoder("vae2d", autoencoder.VAE, ("recon_agreement", "prior_validity", "grid_validity")),
    _autoencoder("cvae", autoencoder.ConditionalVAE, ("caption_acc_seen",)),
    Stage("vqvae", vqvae, vqvae.VQVAE, _TOKENIZER_METRICS,
          lambda mode, needs: vqvae.train(vqvae.VQVAEConfig.preset(mode)),
          lambda model, needs: vqvae.evaluate(model, vqvae.test_images())),
    Stage("vqgan", vqgan, vqgan.VQGAN, _TOKENIZER_METRICS, _vqgan,
          lambda model, needs: vqgan.evaluate(model, vqvae.test_images()), needs=("vqvae",)),
    Stage("bart", bart, bart.CaptionToImageBart,
          tuple(f"caption_acc_{tag}_{kind}" for tag in ("seen", "heldout") for kind in ("one", "two")), _bart,
          lambda model, needs: bart.evaluate(model, vqgan.load_tokenizer(needs["vqgan"]).to(model.device)),
          needs=("vqgan",)),
    Stage("clip", clip, clip.ShapesCLIP, ("zeroshot_color", "zeroshot_shape", "retrieval_r1"),
          lambda mode, needs: clip.train(clip.PRESETS[mode], mode), lambda model, needs: clip.evaluate(model)),
)}


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
    model, history = stage.fit(mode, needs)
    seconds = round(time.perf_counter() - start, 1)
    figures = {k: round(v, 4) for k, v in stage.measure(model, needs).items()}
    print(f"{name} ({mode}): {history.steps} steps in {seconds:.0f} s, {figures}")
    stride = max(1, history.steps // 100)
    return checkpoints.save(model, out_dir / name, model.config, mode=mode, steps=history.steps, seconds=seconds,
                            device=str(device()), losses={k: v[::stride] for k, v in history.losses.items()},
                            **figures)

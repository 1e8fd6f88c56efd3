"""One measurement per stage: load the checkpoint, measure quality with the library's own evaluation
function and the oracle, then time generation and a few training steps.

Each ``measure_*`` takes a ``Context`` (where the checkpoints are, the budget, the device) and returns
metric -> number. Shares (accuracy, validity, agreement, usage) are fractions in [0, 1]; timings are
``*_seconds_per_image`` or ``*_per_s``. ``STAGES`` names the checkpoints each stage needs.

The GAN-CLS and autoencoder stages run on the CPU whatever the device: ``text_gan.evaluate`` and
``autoencoder.evaluate`` read the CPU tensors they make, and GAN-CLS tokenizes captions on the CPU.
"""
from __future__ import annotations

import dataclasses
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import torch

from course_lib import (autoencoder, bart, captions, checkpoints, clip, dalle_mini, datasets, eval_sets, gan,
                        oracle, shapes, stages, text_gan, vqvae)
from course_lib.leaderboard import CANDIDATES, judge_candidates, ranked_by_clip
from course_lib.eval_sets import SPLIT_TAGS, prompts

from .timing import Budget, generation_speed, seconds, training_speed

TRAIN_BATCHES = 4  # distinct batches the timed training steps cycle through


@dataclasses.dataclass
class Context:
    """Where the checkpoints are, how much to measure, and on which device."""

    directory: Path
    budget: Budget
    device: torch.device

    def load(self, name: str, device: torch.device | None = None):
        """Checkpoint ``name`` of the directory, as the model class ``course_lib.stages`` names, on the device."""
        return stages.load(name, self.directory, device or self.device)

    def training(self, name: str):
        """Stage ``name``'s full-mode training config (the shipped checkpoints'), for the timed steps:
        this budget's steps, on ``TRAIN_BATCHES`` batches of its data."""
        training = stages.preset(name, "full").training
        return dataclasses.replace(training, steps=self.budget.train_steps, seconds=None,
                                   n_train=TRAIN_BATCHES * training.batch_size)


PARTIAL_EXAMPLE = "a red circle"  # the prompt whose 16 candidates should spread over sizes and cells


def by_prompt_set(measure: Callable[[list[str]], dict[str, float]], n: int, *, kinds=shapes.KINDS,
                  partial: tuple[bool, ...] = (False, True)) -> dict[str, float]:
    """``measure(prompts) -> {name: share}`` on ``n`` prompts of every split and kind, canonical and
    partial: figures ``NAME_TAG_KIND`` (``partial_NAME_...`` for partial prompts; TAG seen or heldout)
    and their mean over the kinds, ``NAME_TAG``."""
    figures = {}
    for is_partial in partial:
        prefix = "partial_" if is_partial else ""
        for split, tag in SPLIT_TAGS.items():
            per_kind = {kind: measure(prompts(n, split, kind, partial=is_partial)) for kind in kinds}
            for name in per_kind[kinds[0]]:
                figures |= {f"{prefix}{name}_{tag}_{kind}": per_kind[kind][name] for kind in kinds}
                figures[f"{prefix}{name}_{tag}"] = _mean(per_kind[kind][name] for kind in kinds)
    return figures


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# ---------------------------------------------------------------- GAN and GAN-CLS

def measure_gan(ctx: Context) -> dict[str, float]:
    """Validity and coverage of unconditional samples (``gan.evaluate``); sampling and training speed
    (``gan.make_step``)."""
    model, training = ctx.load("gan"), ctx.training("gan")
    n = ctx.budget.samples
    figures = gan.evaluate(model, n)
    figures |= generation_speed(lambda: model.sample(n, z=model.noise(n, seed=1).to(ctx.device)), n)
    step = gan.make_step(model.train(), training)
    return figures | training_speed(lambda batch: step((batch[0].to(ctx.device),)),
                                    datasets.loader(gan.training_data(training), training.batch_size),
                                    ctx.budget.train_steps, training.batch_size)


def measure_text_gan(ctx: Context) -> dict[str, float]:
    """Caption accuracy of one sample per prompt, seen and held-out (``text_gan.evaluate``); 16 samples per
    canonical and partial one-object prompt ranked by the shipped CLIP (``judge_candidates``); speed (CPU)."""
    cpu = torch.device("cpu")
    model, training = ctx.load("text_gan", cpu), ctx.training("text_gan")
    n = ctx.budget.samples
    figures = text_gan.evaluate(model, n=n, kind=training.kind)
    ranker = ctx.load("clip", cpu)
    draw = ranked_by_clip(lambda prompt_list, seed: model.sample(prompt_list, seed=seed), ranker)
    figures |= by_prompt_set(lambda prompt_list: judge_candidates(draw, prompt_list), ctx.budget.prompts,
                             kinds=("one",))
    seen = prompts(n, seed=eval_sets.TEXT_GAN_SEED)
    figures |= generation_speed(lambda: model.sample(seen), n)
    step = text_gan.make_step(model.train(), training)
    return figures | training_speed(step, datasets.loader(text_gan.training_data(training), training.batch_size),
                                    ctx.budget.train_steps, training.batch_size)


# ---------------------------------------------------------------- AE, VAE, conditional VAE

def measure_autoencoder(ctx: Context, name: str) -> dict[str, float]:
    """``autoencoder.evaluate`` (reconstruction agreement, prior / box validity, or the conditional VAE's
    caption accuracy on seen combinations) on the CPU; reconstruction or sampling speed; training speed."""
    model, training = ctx.load(name, torch.device("cpu")), ctx.training(name)
    n, resolution = ctx.budget.samples, model.config.resolution
    figures = autoencoder.evaluate(model, n=n, middle_only=training.middle_only)
    data = datasets.one_object_data(n, seed=7, middle_only=training.middle_only, resolution=resolution)
    inputs = (data.images,)
    if isinstance(model, autoencoder.ConditionalVAE):
        ranker = ctx.load("clip", torch.device("cpu"))
        generate = lambda prompt_list, seed: model.generate(prompt_list, torch.Generator().manual_seed(seed))
        figures |= by_prompt_set(lambda prompt_list: judge_candidates(ranked_by_clip(generate, ranker), prompt_list),
                                 ctx.budget.prompts, kinds=("one",))
        seen = [captions.describe(s) for s in data.scenes]
        inputs += (autoencoder.attributes(seen),)
        figures |= generation_speed(lambda: model.generate(seen), n)
    elif isinstance(model, autoencoder.VAE):
        figures |= generation_speed(lambda: model.sample(n), n)
    figures |= generation_speed(lambda: model.reconstruct(*inputs), n, "reconstruct")
    model.to(ctx.device)
    step = autoencoder.make_step(model.train(), training)
    train_data = autoencoder.training_data(dataclasses.replace(training, seed=1), resolution)
    return figures | training_speed(step, datasets.loader(train_data, training.batch_size), ctx.budget.train_steps,
                                    training.batch_size)


# ---------------------------------------------------------------- the image tokenizers

def measure_tokenizer(ctx: Context, name: str) -> dict[str, float]:
    """An image tokenizer (``vqvae`` or ``vqgan``, the pipeline's): ``vqvae.evaluate`` (agreement,
    codebook usage, perplexity, sharpness, MSE) on held-out test pictures; encode + decode speed;
    training speed of its module's ``make_step``."""
    model, training = ctx.load(name), ctx.training(name)
    n = ctx.budget.samples
    images = vqvae.test_images(n).to(ctx.device)
    figures = vqvae.evaluate(model, images)
    figures |= generation_speed(lambda: model.decode(model.encode(images)), n, "reconstruct")
    train_images = vqvae.training_images(training)
    step = stages.STAGES[name].module.make_step(model, training, float(train_images.var()))
    batches = datasets.loader(torch.utils.data.TensorDataset(train_images), training.batch_size)
    return figures | training_speed(lambda batch: step(batch[0].to(ctx.device)), batches,
                                    ctx.budget.train_steps, training.batch_size)


# ---------------------------------------------------------------- BART, CLIP, the pipeline

def _translator(ctx: Context, name: str = "bart"):
    return ctx.load(name), ctx.load("vqgan")


def measure_translator(ctx: Context, name: str = "bart") -> dict[str, float]:
    """A translator (``bart``, or ``dalle``, DALL·E's one-stream transformer), by the same figures:
    ``bart.caption_accuracy`` of one sample per prompt per split and scene kind, and their means:
    ``caption_acc_*`` sampled as ``bart.DEFAULT_SAMPLING`` (``partial_caption_acc_*`` on partial
    prompts), ``t1_caption_acc_*`` at temperature 1 (the model's own distribution, what ``train``
    records); ``heldout_mistakes_KIND_{one,two}``, how many held-out pictures get each kind of
    ``oracle.MISTAKE_KINDS`` wrong (``_wrong`` any, ``_pictures`` of all); sampling speed (tokens + VQ-GAN
    decode); training speed of its module's ``make_step``; ``parameters``."""
    model, tokenizer = _translator(ctx, name)
    n = ctx.budget.prompts

    def accuracy(sampling):
        return lambda prompt_list: {"caption_acc": bart.caption_accuracy(model, tokenizer, prompt_list, **sampling)}

    figures = by_prompt_set(accuracy(bart.DEFAULT_SAMPLING), n)
    figures |= {f"t1_{k}": v for k, v in by_prompt_set(accuracy({"temperature": 1.0}), n, partial=(False,)).items()}
    for kind in shapes.KINDS:  # which kinds of mistake the held-out pictures make (notebook 07's token noise)
        counts = bart.mistake_counts(model, tokenizer, prompts(n, "heldout", kind), **bart.DEFAULT_SAMPLING)
        figures |= {f"heldout_mistakes_{name}_{kind}": float(count) for name, count in counts.items()}
    seen, side = prompts(n, "train", "two"), int(model.config.image_tokens ** 0.5)
    draw = lambda: tokenizer.decode(model.sample(seen, **bart.DEFAULT_SAMPLING).view(n, side, side))
    figures |= generation_speed(draw, n)
    figures["parameters"] = sum(p.numel() for p in model.parameters())

    training = ctx.training(name)
    data = datasets.ShapesDataset(training.n_train, kind="mixed")
    codes = bart.caption_codes(tokenizer, data)
    model.train()
    step = stages.STAGES[name].module.make_step(model, training, bart.optimizer(model, training), data.captions,
                                                codes, random.Random(0))
    batches = datasets.loader(torch.utils.data.TensorDataset(torch.arange(len(data))), training.batch_size)
    return figures | training_speed(step, batches, ctx.budget.train_steps, training.batch_size)


def measure_clip(ctx: Context) -> dict[str, float]:
    """``clip.evaluate``: zero-shot colour and shape accuracy on one-object pictures, text -> picture
    R@1 among galleries of ``clip.GALLERY`` pictures; encoding speed; training speed (``clip.make_step``)."""
    model = ctx.load("clip")
    n = ctx.budget.samples
    figures = clip.evaluate(model, n)
    images = datasets.ShapesDataset(n, kind="one", seed=eval_sets.ZERO_SHOT_SEED).images.to(ctx.device)
    elapsed, _ = seconds(torch.no_grad()(lambda: model.encode_image(images)))
    figures["encode_images_per_s"] = n / elapsed
    training = ctx.training("clip")
    data = datasets.ShapesDataset(training.n_train, kind="mixed", seed=1)
    step = clip.make_step(model.train(), training)
    return figures | training_speed(step, datasets.loader(data, training.batch_size), ctx.budget.train_steps,
                                    training.batch_size)


def measure_pipeline(ctx: Context, translator_name: str = "bart", partial: tuple[bool, ...] = (False, True)
                     ) -> dict[str, float]:
    """``dalle_mini.Pipeline`` with the shipped BART (or ``translator_name``'s translator, e.g. ``dalle``),
    VQ-GAN and CLIP, sampling as ``bart.DEFAULT_SAMPLING``, on canonical prompts and, with ``True`` in
    ``partial``, partial ones: per prompt ``CANDIDATES`` pictures. ``random_*``: oracle caption accuracy of
    one random candidate (the mean over all candidates); ``best_of_16_*``: of CLIP's first choice;
    ``oracle_best_of_16_*``: share of prompts with at least one right candidate; ``lift_*``: best-of-16
    minus random."""
    translator, tokenizer = _translator(ctx, translator_name)
    ranker = ctx.load("clip")
    pipeline = dalle_mini.Pipeline(translator, tokenizer, dalle_mini.clip_ranker(ranker),
                                   **bart.DEFAULT_SAMPLING)
    timing = []

    def draw(prompt: str, seed: int) -> torch.Tensor:
        took, drawing = seconds(lambda: pipeline.draw(prompt, CANDIDATES, seed=seed))
        timing.append(took)
        return drawing.images  # best first

    figures = by_prompt_set(lambda prompt_list: judge_candidates(draw, prompt_list), ctx.budget.prompts,
                            partial=partial)
    for prefix in ("partial_" if is_partial else "" for is_partial in partial):
        for tag in SPLIT_TAGS.values():
            figures[f"{prefix}lift_{tag}"] = figures[f"{prefix}best_of_16_{tag}"] - figures[f"{prefix}random_{tag}"]
    figures |= spread_of_example(draw(PARTIAL_EXAMPLE, 0))
    figures["draw_seconds_per_prompt"] = _mean(timing)
    figures["draw_seconds_per_image"] = _mean(timing) / CANDIDATES
    if ctx.directory.resolve() == checkpoints.DATA_DIR:  # the command line draws with the shipped ones
        figures["cli_draw_seconds"] = _command_line_draw_seconds(ctx.device, translator_name)
    return figures


def _command_line_draw_seconds(device: torch.device, translator: str = "bart", runs: int = 3) -> float:
    """Wall seconds of ``python -m course_lib draw PROMPT -n 16 --translator NAME`` in a fresh process,
    imports and loading included (what a user waits for; issue #7 asks for <= 10 s on a CPU): the
    median of ``runs`` after one run that warms the file cache."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "course_lib", "draw", prompts(1, "train", "two")[0], "--translator", translator,
                   "-n", str(CANDIDATES), "-o", str(Path(tmp) / "grid.png"), "--device", device.type]
        timings = [seconds(lambda: subprocess.run(command, check=True, capture_output=True))[0]
                   for _ in range(runs + 1)]
    return statistics.median(timings[1:])


def spread_of_example(images: torch.Tensor) -> dict[str, float]:
    """How the candidates of ``PARTIAL_EXAMPLE`` spread: right ones, and distinct sizes and cells among them."""
    spec = captions.parse(PARTIAL_EXAMPLE)
    right = [r.scene.objects[0] for r in oracle.read(images) if oracle.matches(r.scene, spec)]
    return {"example_right": len(right), "example_sizes": len({o.size for o in right}),
            "example_cells": len({o.cell for o in right})}


# stage -> (the checkpoints it needs, its measurement)
STAGES: dict[str, tuple[tuple[str, ...], Callable[[Context], dict[str, float]]]] = {
    "gan": (("gan",), measure_gan),
    "text_gan": (("text_gan", "clip"), measure_text_gan),
    "ae": (("ae",), lambda ctx: measure_autoencoder(ctx, "ae")),
    "vae": (("vae",), lambda ctx: measure_autoencoder(ctx, "vae")),
    "cvae": (("cvae", "clip"), lambda ctx: measure_autoencoder(ctx, "cvae")),
    "vqvae": (("vqvae",), lambda ctx: measure_tokenizer(ctx, "vqvae")),
    "vqgan": (("vqgan",), lambda ctx: measure_tokenizer(ctx, "vqgan")),
    "bart": (("bart", "vqgan"), measure_translator),
    "clip": (("clip",), measure_clip),
    "pipeline": (("bart", "vqgan", "clip"), measure_pipeline),
    "dalle": (("dalle", "vqgan"), lambda ctx: measure_translator(ctx, "dalle")),
    # canonical prompts only: 16 candidates for each of 800 prompts already take most of an hour on a CPU
    "pipeline_dalle": (("dalle", "vqgan", "clip"), lambda ctx: measure_pipeline(ctx, "dalle", partial=(False,))),
}


def _measure_in(module: str, name: str) -> Callable[[Context], dict[str, float]]:
    """``measure_NAME`` of ``benchmarks/MODULE.py`` (imported when measured: it imports this module)."""
    def measure(ctx: Context) -> dict[str, float]:
        import importlib

        return getattr(importlib.import_module(f"benchmarks.{module}"), f"measure_{name}")(ctx)
    return measure


STAGES |= {"diffusion": (("diffusion",), _measure_in("diffusion_stages", "diffusion")),
           "glide": (("glide", "clip"), _measure_in("diffusion_stages", "glide")),
           "unclip": (("unclip", "clip"), _measure_in("diffusion_stages", "unclip")),
           "imagen": (("imagen", "clip"), _measure_in("diffusion_stages", "imagen")),
           # the swaps of every text-to-image stage found (each skipped with a line when missing)
           "binding": (("clip",), _measure_in("diffusion_stages", "binding")),
           "vqgan_clip": (("vqgan", "clip"), _measure_in("open_source_stages", "vqgan_clip")),
           "clip_guidance": (("diffusion", "clip", "glide"), _measure_in("open_source_stages", "clip_guidance"))}

"""One measurement per stage: load the checkpoint, measure quality with the library's own evaluation
function and the oracle, then time generation and a few training steps.

Each ``measure_*`` takes a ``Context`` (where the checkpoints are, the budget, the device) and returns
metric -> number. Shares (accuracy, validity, agreement, usage) are fractions in [0, 1]; timings are
``*_seconds_per_image`` or ``*_per_s``. ``STAGES`` names the checkpoints each stage needs.

The GAN-CLS and autoencoder stages run on the CPU whatever the device: ``text_gan.evaluate`` and
``autoencoder.measure`` read the CPU tensors they make, and GAN-CLS tokenizes captions on the CPU.
"""
from __future__ import annotations

import dataclasses
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import torch

from course_lib import (autoencoder, bart, captions, checkpoints, clip, dalle_mini, datasets, gan, oracle,
                        shapes, text_gan, vqgan, vqvae)

from .timing import Budget, generation_speed, seconds, training_speed

CANDIDATES = 16  # pictures the pipeline draws per prompt; CLIP keeps the best (pipeline.best_of_16_*)
PROMPT_SEED = 99  # the seed bart.train_shipped draws its measurement prompts with
GALLERY = 100  # pictures among which CLIP retrieves each caption's own (clip.retrieval_r1)
TRAIN_BATCHES = 4  # distinct batches the timed training steps cycle through
SPLIT_TAGS = {"train": "seen", "heldout": "heldout"}


@dataclasses.dataclass
class Context:
    """Where the checkpoints are, how much to measure, and on which device."""

    directory: Path
    budget: Budget
    device: torch.device

    def load(self, name: str, model_cls, config_cls, device: torch.device | None = None):
        """Checkpoint ``name`` of the directory, rebuilt by ``checkpoints.load``, on the device."""
        return checkpoints.load(self.directory / name, model_cls, config_cls).to(device or self.device)


# What the partial prompts leave open, in turn: people type "a red circle" before they type
# "a big red circle in the top left corner" (issue #20). Two-object prompts place by the relation.
PARTIAL_OPEN = {"one": (("size",), ("position",), ("size", "position")), "two": (("size",),)}
PARTIAL_EXAMPLE = "a red circle"  # the prompt whose 16 candidates should spread over sizes and cells


def prompts(n: int, split: str, kind: str, *, partial: bool = False) -> list[str]:
    """Canonical captions of ``n`` scenes of a split ("train" or "heldout") and kind ("one" or "two");
    ``partial``: the same scenes' captions with size and position left open as ``PARTIAL_OPEN`` says."""
    scenes = shapes.sample_scenes(n, seed=PROMPT_SEED, split=split, kind=kind)
    if not partial:
        return [captions.describe(s) for s in scenes]
    choices = PARTIAL_OPEN[kind]
    return [captions.describe(s, leave_open=choices[i % len(choices)]) for i, s in enumerate(scenes)]


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
    """Validity and coverage of unconditional samples (``gan.evaluate``); sampling and training speed."""
    model = ctx.load("gan", gan.GAN, gan.GANConfig)
    n, config = ctx.budget.samples, model.config

    def draw():
        return model.sample(n, z=model.noise(n, seed=1).to(ctx.device))

    figures = gan.evaluate(draw()) | generation_speed(draw, n)
    opt_g, opt_d = gan.optimizers(model, config)
    data = gan.training_data(dataclasses.replace(config, n_train=TRAIN_BATCHES * config.batch_size))

    def step(batch):
        real = batch[0].to(ctx.device)
        return gan.train_step(model.train(), opt_g, opt_d, real,
                              torch.randn(len(real), config.z_dim, device=ctx.device))

    return figures | training_speed(step, datasets.loader(data, config.batch_size), ctx.budget.train_steps,
                                    config.batch_size)


def measure_text_gan(ctx: Context) -> dict[str, float]:
    """Caption accuracy of one sample per prompt, seen and held-out (``text_gan.evaluate``); 16 samples per
    canonical and partial one-object prompt ranked by the shipped CLIP (``judge_candidates``); speed (CPU)."""
    cpu = torch.device("cpu")
    model = ctx.load("text_gan", text_gan.TextGAN, text_gan.TextGANConfig, cpu)
    n, config = ctx.budget.samples, model.config
    scores = text_gan.evaluate(model, n=n)
    figures = {"caption_acc_seen": scores["accuracy_seen"], "caption_acc_heldout": scores["accuracy_heldout"]}
    ranker = ctx.load("clip", clip.ShapesCLIP, clip.ClipConfig, cpu)
    draw = ranked_by_clip(lambda prompt_list, seed: model.sample(prompt_list, seed=seed), ranker)
    figures |= by_prompt_set(lambda prompt_list: judge_candidates(draw, prompt_list), ctx.budget.prompts,
                             kinds=("one",))
    seen = text_gan.prompts(n)
    figures |= generation_speed(lambda: model.sample(seen), n)
    data = text_gan.training_data(dataclasses.replace(config, n_train=TRAIN_BATCHES * config.batch_size))
    step = text_gan.make_step(model.train(), config)
    return figures | training_speed(step, datasets.loader(data, config.batch_size), ctx.budget.train_steps,
                                    config.batch_size)


# ---------------------------------------------------------------- AE, VAE, conditional VAE

_AUTOENCODER_NAMES = {"agreement": "recon_agreement", "caption_accuracy": "caption_acc_seen"}


def measure_autoencoder(ctx: Context, name: str) -> dict[str, float]:
    """``autoencoder.measure`` (reconstruction agreement, prior / box validity, or the conditional VAE's
    caption accuracy on seen combinations) on the CPU; reconstruction or sampling speed; training speed."""
    model_cls = autoencoder.MODELS[checkpoints.read_config(ctx.directory / name)["model"]]
    config_cls = autoencoder.AEConfig if model_cls is autoencoder.Autoencoder else autoencoder.VAEConfig
    model = ctx.load(name, model_cls, config_cls, torch.device("cpu"))
    n, config = ctx.budget.samples, model.config
    figures = {_AUTOENCODER_NAMES.get(k, k): v for k, v in autoencoder.measure(name, model, n=n).items()}
    data = autoencoder.one_object_data(n, seed=7, middle_only=config.middle_only, resolution=config.resolution)
    inputs = (data.images,)
    if isinstance(model, autoencoder.ConditionalVAE):
        ranker = ctx.load("clip", clip.ShapesCLIP, clip.ClipConfig, torch.device("cpu"))
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
    step = autoencoder.make_step(model.train(), torch.optim.Adam(model.parameters(), lr=config.lr))
    train_data = autoencoder.one_object_data(TRAIN_BATCHES * config.batch_size, middle_only=config.middle_only,
                                             resolution=config.resolution)
    return figures | training_speed(step, datasets.loader(train_data, config.batch_size), ctx.budget.train_steps,
                                    config.batch_size)


# ---------------------------------------------------------------- the image tokenizers

def _measure_tokenizer(ctx: Context, name: str, module, model_cls, config_cls) -> dict[str, float]:
    """``vqvae.evaluate`` (agreement, codebook usage, perplexity, sharpness, MSE) on held-out test
    pictures; encode + decode speed; training speed of ``module.make_step``."""
    model = ctx.load(name, model_cls, config_cls)
    n, config = ctx.budget.samples, model.config
    images = vqvae.test_images(n).to(ctx.device)
    scores = vqvae.evaluate(model, images)
    figures = {"recon_agreement": scores["agreement"], "code_usage": scores["usage"],
               "perplexity": scores["perplexity"], "sharpness": scores["sharpness"], "mse": scores["mse"]}
    figures |= generation_speed(lambda: model.decode(model.encode(images)), n, "reconstruct")
    train_images = datasets.ShapesDataset(TRAIN_BATCHES * config.batch_size, kind="mixed").images
    step = module.make_step(model, float(train_images.var()))
    batches = datasets.loader(torch.utils.data.TensorDataset(train_images), config.batch_size)
    return figures | training_speed(lambda batch: step(batch[0].to(ctx.device)), batches,
                                    ctx.budget.train_steps, config.batch_size)


def measure_vqvae(ctx: Context) -> dict[str, float]:
    """The VQ-VAE tokenizer: see ``_measure_tokenizer``."""
    return _measure_tokenizer(ctx, "vqvae", vqvae, vqvae.VQVAE, vqvae.VQVAEConfig)


def measure_vqgan(ctx: Context) -> dict[str, float]:
    """The VQ-GAN tokenizer (the pipeline's): see ``_measure_tokenizer``."""
    return _measure_tokenizer(ctx, "vqgan", vqgan, vqgan.VQGAN, vqgan.VQGANConfig)


# ---------------------------------------------------------------- BART, CLIP, the pipeline

def _translator(ctx: Context) -> tuple[bart.CaptionToImageBart, vqgan.VQGAN]:
    return (ctx.load("bart", bart.CaptionToImageBart, bart.TranslatorConfig),
            ctx.load("vqgan", vqgan.VQGAN, vqgan.VQGANConfig))


def measure_bart(ctx: Context) -> dict[str, float]:
    """``bart.caption_accuracy`` of one sample per prompt per split and scene kind, and their means:
    ``caption_acc_*`` sampled as ``bart.DEFAULT_SAMPLING`` (``partial_caption_acc_*`` on partial
    prompts), ``t1_caption_acc_*`` at temperature 1 (the model's own distribution, what ``train bart``
    records); sampling speed (tokens + VQ-GAN decode);
    translation training speed."""
    model, tokenizer = _translator(ctx)
    n = ctx.budget.prompts

    def accuracy(sampling):
        return lambda prompt_list: {"caption_acc": bart.caption_accuracy(model, tokenizer, prompt_list, **sampling)}

    figures = by_prompt_set(accuracy(bart.DEFAULT_SAMPLING), n)
    figures |= {f"t1_{k}": v for k, v in by_prompt_set(accuracy({"temperature": 1.0}), n, partial=(False,)).items()}
    seen, side = prompts(n, "train", "two"), int(model.config.image_tokens ** 0.5)
    draw = lambda: tokenizer.decode(bart.sample(model, seen, **bart.DEFAULT_SAMPLING).view(n, side, side))
    figures |= generation_speed(draw, n)

    batch_size = 64
    data = datasets.ShapesDataset(TRAIN_BATCHES * batch_size, kind="mixed")
    codes = bart.caption_codes(tokenizer, data)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)

    def step(batch):
        (index,) = batch
        model.train()
        loss = bart.translation_loss(model, [data.captions[i] for i in index], codes[index].to(ctx.device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"translation": loss.item()}

    batches = datasets.loader(torch.utils.data.TensorDataset(torch.arange(len(data))), batch_size)
    return figures | training_speed(step, batches, ctx.budget.train_steps, batch_size)


def measure_clip(ctx: Context) -> dict[str, float]:
    """Zero-shot colour and shape accuracy on one-object pictures (``clip.zero_shot_classify``);
    text -> picture R@1 among galleries of ``GALLERY`` pictures by ``clip.relevance``; speed."""
    model = ctx.load("clip", clip.ShapesCLIP, clip.ClipConfig)
    n = ctx.budget.samples
    one = datasets.ShapesDataset(n, kind="one", seed=4321)
    images = one.images.to(ctx.device)
    figures = {f"zeroshot_{attribute}": clip.zero_shot_accuracy(model, one, attribute) for attribute in ("color", "shape")}
    figures["retrieval_r1"] = _retrieval_r1(model, n, ctx.device)
    elapsed, _ = seconds(torch.no_grad()(lambda: model.encode_image(images)))
    figures["encode_images_per_s"] = n / elapsed
    batch_size = 128
    data = datasets.ShapesDataset(TRAIN_BATCHES * batch_size, kind="mixed", seed=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.1)
    return figures | training_speed(lambda batch: clip.train_step(model.train(), optimizer, batch),
                                    datasets.loader(data, batch_size), ctx.budget.train_steps, batch_size)


def _retrieval_r1(model: clip.ShapesCLIP, n: int, device: torch.device) -> float:
    """Share of (varied) captions whose best-scoring picture in a gallery of mixed scenes shows what
    they say (a caption that leaves size or position open fits more than its own scene);
    ``n`` captions in galleries of ``GALLERY`` pictures."""
    hits = []
    for gallery in range(max(1, n // GALLERY)):
        data = datasets.ShapesDataset(min(n, GALLERY), kind="mixed", seed=2000 + gallery)
        best = clip.relevance(model, data.images.to(device), data.captions).argmax(0).cpu()  # (captions,)
        hits += [oracle.matches(data.scenes[int(i)], captions.parse(caption)) for i, caption in zip(best, data.captions)]
    return _mean(hits)


def measure_pipeline(ctx: Context) -> dict[str, float]:
    """``dalle_mini.Pipeline`` with the shipped BART, VQ-GAN and CLIP, sampling as ``bart.DEFAULT_SAMPLING``:
    per prompt ``CANDIDATES`` pictures. ``random_*``: oracle caption accuracy of one random candidate
    (the mean over all candidates); ``best_of_16_*``: of CLIP's first choice; ``oracle_best_of_16_*``:
    share of prompts with at least one right candidate; ``lift_*``: best-of-16 minus random."""
    translator, tokenizer = _translator(ctx)
    ranker = ctx.load("clip", clip.ShapesCLIP, clip.ClipConfig)
    pipeline = dalle_mini.Pipeline(translator, tokenizer, dalle_mini.clip_ranker(ranker),
                                   **bart.DEFAULT_SAMPLING)
    timing = []

    def draw(prompt: str, seed: int) -> torch.Tensor:
        took, drawing = seconds(lambda: pipeline.draw(prompt, CANDIDATES, seed=seed))
        timing.append(took)
        return drawing.images  # best first

    figures = by_prompt_set(lambda prompt_list: judge_candidates(draw, prompt_list), ctx.budget.prompts)
    for prefix in ("", "partial_"):
        for tag in SPLIT_TAGS.values():
            figures[f"{prefix}lift_{tag}"] = figures[f"{prefix}best_of_16_{tag}"] - figures[f"{prefix}random_{tag}"]
    figures |= spread_of_example(draw(PARTIAL_EXAMPLE, 0))
    figures["draw_seconds_per_prompt"] = _mean(timing)
    figures["draw_seconds_per_image"] = _mean(timing) / CANDIDATES
    if ctx.directory.resolve() == checkpoints.DATA_DIR:  # the command line draws with the shipped ones
        figures["cli_draw_seconds"] = _command_line_draw_seconds(ctx.device)
    return figures


def _command_line_draw_seconds(device: torch.device, runs: int = 3) -> float:
    """Wall seconds of ``python -m course_lib draw PROMPT -n 16`` in a fresh process, imports and
    loading included (what a user waits for; issue #7 asks for <= 10 s on a CPU): the median of
    ``runs`` after one run that warms the file cache."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "course_lib", "draw", prompts(1, "train", "two")[0],
                   "-n", str(CANDIDATES), "-o", str(Path(tmp) / "grid.png"), "--device", device.type]
        timings = [seconds(lambda: subprocess.run(command, check=True, capture_output=True))[0]
                   for _ in range(runs + 1)]
    return statistics.median(timings[1:])


def judge_candidates(draw: Callable[[str, int], torch.Tensor], prompt_list: list[str]) -> dict[str, float]:
    """``draw(prompt, seed)`` makes ``CANDIDATES`` pictures, best first; the oracle judges them.
    ``random``: accuracy of one random candidate (the mean over all); ``best_of_16``: of the first;
    ``oracle_best_of_16``: some candidate is right; ``variety``: distinct answers to what the prompt
    leaves open among the right ones (``oracle.variety``; at most 1 for a prompt that names everything)."""
    random_pick, best, any_right, variety = [], [], [], []
    for seed, prompt in enumerate(prompt_list):
        images = draw(prompt, seed)
        right = oracle.caption_correct(images, [prompt] * len(images))
        random_pick.append(_mean(right))
        best.append(right[0])
        any_right.append(any(right))
        variety.append(oracle.variety(images, prompt))
    return {"random": _mean(random_pick), "best_of_16": _mean(best), "oracle_best_of_16": _mean(any_right),
            "variety": _mean(variety)}


def spread_of_example(images: torch.Tensor) -> dict[str, float]:
    """How the candidates of ``PARTIAL_EXAMPLE`` spread: right ones, and distinct sizes and cells among them."""
    spec = captions.parse(PARTIAL_EXAMPLE)
    right = [r.scene.objects[0] for r in oracle.read(images) if oracle.matches(r.scene, spec)]
    return {"example_right": len(right), "example_sizes": len({o.size for o in right}),
            "example_cells": len({o.cell for o in right})}


def ranked_by_clip(generate: Callable[[list[str], int], torch.Tensor], ranker: clip.ShapesCLIP):
    """A ``draw(prompt, seed)`` for ``judge_candidates`` from a one-picture-per-prompt generator:
    ``CANDIDATES`` pictures of the prompt, sorted by CLIP's relevance, best first (DALL·E's reranking,
    applied to any generator)."""
    score = dalle_mini.clip_ranker(ranker)  # the pipeline's own ranking

    def draw(prompt: str, seed: int) -> torch.Tensor:
        images = generate([prompt] * CANDIDATES, seed).cpu()
        scores = score(images.to(next(ranker.parameters()).device), prompt).cpu()
        return images[scores.argsort(descending=True)]
    return draw


# stage -> (the checkpoints it needs, its measurement)
STAGES: dict[str, tuple[tuple[str, ...], Callable[[Context], dict[str, float]]]] = {
    "gan": (("gan",), measure_gan),
    "text_gan": (("text_gan", "clip"), measure_text_gan),
    "ae": (("ae",), lambda ctx: measure_autoencoder(ctx, "ae")),
    "vae": (("vae",), lambda ctx: measure_autoencoder(ctx, "vae")),
    "cvae": (("cvae", "clip"), lambda ctx: measure_autoencoder(ctx, "cvae")),
    "vqvae": (("vqvae",), measure_vqvae),
    "vqgan": (("vqgan",), measure_vqgan),
    "bart": (("bart", "vqgan"), measure_bart),
    "clip": (("clip",), measure_clip),
    "pipeline": (("bart", "vqgan", "clip"), measure_pipeline),
}

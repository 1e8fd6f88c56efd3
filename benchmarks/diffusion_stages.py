"""The measurements of the diffusion stages: unconditional diffusion and GLIDE (issue #25), unCLIP and
Imagen (issue #26), and the attribute swaps of every text-to-image stage side by side (``binding``).

``measure_diffusion``: the oracle's validity and coverage and the sharpness of samples, and seconds per
picture, for DDPM with all its steps and DDIM with 50 / 20 / 10 (``ddpm_*``, ``ddim50_*``, ...); the
unprefixed figures are ``diffusion.evaluate``'s (DDIM, 50 steps), what the checkpoint's JSON records.

``measure_glide``: caption accuracy of one sample per prompt at the default guidance, canonical and
partial prompts (``caption_acc_*``, ``partial_caption_acc_*``), per guidance scale (``s{S}_caption_acc_*``),
the diversity of samples of one partial prompt per scale, CLIP's best of 16 (``best_of_16_*`` against
``random_*``), the attribute swaps on two-object prompts (``swap_{colour,shape,position}_{seen,heldout}``),
seconds per picture.

``measure_unclip``: the same figures through the diffusion prior, the regression prior's accuracy
(``regression_caption_acc_*``) and the decoder's handed z_t itself (``none_caption_acc_*``), and how well variations keep what the source picture shows
(``variation_caption_acc_{one,two}``). ``measure_imagen``: the same figures as GLIDE's at the default
guidance, and clipping against dynamic thresholding at high guidance (``imagen.threshold_study``).

``measure_binding``: for each text-to-image stage with a checkpoint (text_gan and cvae draw one object,
so none), one sample per two-object prompt: ``{stage}_swap_{kind}_{tag}`` beside its
``{stage}_caption_acc_{tag}_two``; and CLIP's own binding (``swaps.clip_prefers_right``) on the rendered
right pictures of the same prompts: ``clip_prefers_right_{kind}_{tag}``.
"""
from __future__ import annotations

from typing import Callable

import torch

from course_lib import (bart, captions, datasets, diffusion, eval_sets, gan, glide, imagen, metrics, oracle, shapes, swaps,
                        unclip)
from course_lib.eval_sets import SPLIT_TAGS
from course_lib.leaderboard import judge_candidates, ranked_by_clip

from .stages import Context, by_prompt_set
from .timing import generation_speed, seconds, training_speed

SAMPLERS = (("ddpm", None), ("ddim", 50), ("ddim", 20), ("ddim", 10))  # (sampler, steps); DDPM takes all T
SCALES = (0, 1, 2, 3, 5, 8)  # guidance scales of notebook 12's sweep


def measure_diffusion(ctx: Context) -> dict[str, float]:
    model, training = ctx.load("diffusion"), ctx.training("diffusion")
    n = ctx.budget.samples
    figures = diffusion.evaluate(model, n)
    for sampler, steps in SAMPLERS:
        name = "ddpm" if sampler == "ddpm" else f"ddim{steps}"
        took, pictures = seconds(lambda: model.sample(n, sampler=sampler, steps=steps or 0,
                                                      seed=eval_sets.GAN_NOISE_SEED).cpu())
        figures |= {f"{name}_{k}": v for k, v in gan.judge(pictures).items()}
        figures[f"{name}_sharpness"] = metrics.sharpness(pictures)
        figures[f"{name}_seconds_per_picture"] = took / n
    step = diffusion.make_step(model.train(), training)
    return figures | training_speed(step, datasets.loader(diffusion.training_data(training), training.batch_size),
                                    ctx.budget.train_steps, training.batch_size)


def caption_figures(ctx: Context, sample: Callable[..., torch.Tensor]) -> dict[str, float]:
    """What every caption-to-picture diffusion stage is measured by, from ``sample(prompts, seed=...)``:
    one sample per canonical and partial prompt (``caption_acc_*``), CLIP's best of 16 (``best_of_16_*``,
    ``random_*``, ...), the swaps on two-object prompts, and seconds per picture."""
    n = ctx.budget.prompts
    figures = by_prompt_set(lambda prompt_list: {"caption_acc": oracle.caption_accuracy(sample(prompt_list).cpu(),
                                                                                         prompt_list)}, n)
    draw = ranked_by_clip(lambda prompt_list, seed: sample(prompt_list, seed=seed), ctx.load("clip"))
    figures |= by_prompt_set(lambda prompt_list: judge_candidates(draw, prompt_list), n, partial=(False,))
    figures |= swap_figures(sample, n)
    seen = eval_sets.prompts(min(n, 64), "train", "two")
    return figures | generation_speed(lambda: sample(seen), len(seen))


def swap_figures(sample: Callable[[list[str]], torch.Tensor], n: int) -> dict[str, float]:
    """``swap_{kind}_{tag}``: ``swaps.swap_rates`` of one sample per two-object prompt, n per split."""
    figures = {}
    for split, tag in SPLIT_TAGS.items():
        prompt_list = eval_sets.prompts(n, split, "two")
        figures |= {f"{k}_{tag}": v for k, v in swaps.swap_rates(sample(prompt_list).cpu(), prompt_list).items()}
    return figures


def _training_speed(module, model, training, ctx: Context) -> dict[str, float]:
    step = module.make_step(model.train(), training)
    return training_speed(step, datasets.loader(module.training_data(training), training.batch_size),
                          ctx.budget.train_steps, training.batch_size)


def measure_glide(ctx: Context) -> dict[str, float]:
    model, training = ctx.load("glide"), ctx.training("glide")
    n = ctx.budget.prompts
    figures = caption_figures(ctx, model.sample)
    for scale in SCALES:
        per_scale = by_prompt_set(lambda prompt_list: {"caption_acc": glide.caption_accuracy(model, prompt_list,
                                                                                              scale=scale)},
                                  n, partial=(False,))
        figures |= {f"s{scale}_{k}": v for k, v in per_scale.items()}
        spread = model.sample(["a red circle"] * 16, scale=scale, seed=eval_sets.PROMPT_SEED).cpu()
        figures[f"s{scale}_diversity"] = metrics.diversity(spread)
    return figures | _training_speed(glide, model, training, ctx)


def measure_imagen(ctx: Context) -> dict[str, float]:
    model, training = ctx.load("imagen"), ctx.training("imagen")
    figures = caption_figures(ctx, model.sample) | imagen.threshold_study(model, ctx.budget.prompts)
    return figures | _training_speed(glide, model, training, ctx)


VARIATIONS = 4  # variations drawn of each source picture


def measure_unclip(ctx: Context) -> dict[str, float]:
    model, training = ctx.load("unclip"), ctx.training("unclip")
    n = ctx.budget.prompts
    figures = caption_figures(ctx, model.sample)
    for prior in ("regression", "none"):
        other = by_prompt_set(lambda prompt_list: {"caption_acc": oracle.caption_accuracy(
            model.sample(prompt_list, prior=prior).cpu(), prompt_list)}, n, partial=(False,))
        figures |= {f"{prior}_{k}": v for k, v in other.items()}
    for kind in shapes.KINDS:  # do variations show what their source shows? (its full caption)
        scenes = shapes.sample_scenes(min(n, 50), seed=eval_sets.PROMPT_SEED, kind=kind)
        right = []
        for i, picture in enumerate(shapes.render(scenes)):
            drawn = model.variations(picture, VARIATIONS, seed=i).cpu()
            right += oracle.caption_correct(drawn, [captions.describe(scenes[i])] * VARIATIONS)
        figures[f"variation_caption_acc_{kind}"] = sum(right) / len(right)
    return figures | _training_speed(unclip, model, training, ctx)


def _binding_samplers(ctx: Context) -> dict[str, Callable[[list[str]], torch.Tensor]]:
    """stage -> one picture per prompt, for each text-to-image stage of two objects whose checkpoint exists."""
    present = {name for name in ("bart", "dalle", "glide", "unclip", "imagen", "vqgan")
               if (ctx.directory / f"{name}.safetensors").exists()}
    samplers = {}
    for name in ("bart", "dalle"):
        if {name, "vqgan"} <= present:
            model, tokenizer = ctx.load(name), ctx.load("vqgan")
            samplers[name] = (lambda m: lambda ps: bart.pictures(m, tokenizer, ps, **bart.DEFAULT_SAMPLING))(model)
    for name in ("glide", "unclip", "imagen"):
        if name in present:
            samplers[name] = ctx.load(name).sample
    for name in sorted({"bart", "dalle", "glide", "unclip", "imagen"} - set(samplers)):
        print(f"binding: {name} skipped, its checkpoint is not in {ctx.directory}")
    return samplers


def measure_binding(ctx: Context) -> dict[str, float]:
    n = ctx.budget.prompts
    figures = {}
    for name, sample in _binding_samplers(ctx).items():
        for split, tag in SPLIT_TAGS.items():
            prompt_list = eval_sets.prompts(n, split, "two")
            pictures = sample(prompt_list).cpu()
            figures[f"{name}_caption_acc_{tag}_two"] = oracle.caption_accuracy(pictures, prompt_list)
            figures |= {f"{name}_{k}_{tag}": v for k, v in swaps.swap_rates(pictures, prompt_list).items()}
    ranker = ctx.load("clip")
    for split, tag in SPLIT_TAGS.items():
        scenes = shapes.sample_scenes(n, seed=eval_sets.PROMPT_SEED, split=split, kind="two")
        prefers = swaps.clip_prefers_right(ranker, shapes.render(scenes), eval_sets.prompts(n, split, "two"))
        figures |= {f"clip_{k}_{tag}": v for k, v in prefers.items()}
    return figures


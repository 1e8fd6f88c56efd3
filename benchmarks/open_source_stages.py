"""The measurements of notebook 14's no-translator methods (issue #27): VQGAN + CLIP and CLIP-guided
diffusion, on the course's evaluation prompts, against what CLIP gives the true pictures.

``measure_vqgan_clip``: for each split and scene kind, ``vqgan_clip.optimise`` with its default config,
with augmentations (unprefixed figures) and without (``plain_*``): the oracle's caption accuracy and
validity of the final pictures, CLIP's mean score of them (``clip_score_*``) beside its mean score of a
true picture of each caption (``true_clip_score_*``), and the share that fool CLIP (``fooled_*``,
``Trace.fooled``: scored at least as high as the true picture, wrong by the oracle); seconds per picture.

``measure_clip_guidance``: ``clip_guidance.sample`` at each scale of ``SCALES`` (``s{S}_*``) and GLIDE's
classifier-free guidance at its default (``glide_*``) on the same prompts: caption accuracy, validity,
CLIP's mean score; seconds per picture of the guided sampler at ``leaderboard.CLIP_GUIDANCE_SCALE``.

Optimising a picture costs seconds on a CPU, so both use at most ``PROMPTS`` prompts per split and kind.
"""
from __future__ import annotations

import torch

from course_lib import clip, clip_guidance, eval_sets, leaderboard, oracle, shapes, vqgan_clip
from course_lib.eval_sets import SPLIT_TAGS

from .stages import Context
from .timing import seconds

PROMPTS = 25  # most prompts per split and kind (VQGAN + CLIP: ~3 s a picture on one CPU thread)
SCALES = (0, 0.1, leaderboard.CLIP_GUIDANCE_SCALE, 1.0)  # CLIP guidance scales measured


def _prompt_sets(ctx: Context):
    """(tag, kind, prompts, true pictures of them) for every split and kind, on the same prompts as the leaderboard."""
    n = min(ctx.budget.prompts, PROMPTS)
    for split, tag in SPLIT_TAGS.items():
        for kind in shapes.KINDS:
            scenes = shapes.sample_scenes(n, seed=eval_sets.PROMPT_SEED, split=split, kind=kind)
            yield tag, kind, eval_sets.prompts(n, split, kind), shapes.render(scenes)


def _scores(ranker: clip.ShapesCLIP, pictures: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    """(B,) CLIP's relevance of each picture to its own prompt."""
    with torch.no_grad():
        return clip.relevance(ranker, pictures, prompts).diag().cpu()


def measure_vqgan_clip(ctx: Context) -> dict[str, float]:
    vq, ranker = ctx.load("vqgan"), ctx.load("clip")
    figures, took, drawn = {}, 0.0, 0
    for tag, kind, prompts, true_pictures in _prompt_sets(ctx):
        true = _scores(ranker, true_pictures, prompts)
        figures[f"true_clip_score_{tag}_{kind}"] = float(true.mean())
        for prefix, augment in (("", True), ("plain_", False)):
            result = vqgan_clip.optimise(vq, ranker, prompts, vqgan_clip.VqganClipConfig(augment=augment))
            figures |= {f"{prefix}caption_acc_{tag}_{kind}": oracle.caption_accuracy(result.pictures, prompts),
                        f"{prefix}validity_{tag}_{kind}": oracle.validity(result.pictures),
                        f"{prefix}clip_score_{tag}_{kind}": float(result.scores.mean()),
                        f"{prefix}fooled_{tag}_{kind}": float(result.trace.fooled(true)[-1])}
            if augment:
                took, drawn = took + result.seconds, drawn + len(prompts)
    return figures | {"seconds_per_picture": took / drawn}


def measure_clip_guidance(ctx: Context) -> dict[str, float]:
    model, ranker, glide_model = ctx.load("diffusion"), ctx.load("clip"), ctx.load("glide")
    figures, took, drawn = {}, 0.0, 0
    for tag, kind, prompts, _ in _prompt_sets(ctx):
        drawings = {f"s{scale}": lambda scale=scale: clip_guidance.sample(model, ranker, prompts, scale=scale).cpu()
                    for scale in SCALES}
        drawings["glide"] = lambda: glide_model.sample(prompts).cpu()
        for name, draw in drawings.items():
            elapsed, pictures = seconds(draw)
            if name == f"s{leaderboard.CLIP_GUIDANCE_SCALE}":
                took, drawn = took + elapsed, drawn + len(prompts)
            figures |= {f"{name}_caption_acc_{tag}_{kind}": oracle.caption_accuracy(pictures, prompts),
                        f"{name}_validity_{tag}_{kind}": oracle.validity(pictures),
                        f"{name}_clip_score_{tag}_{kind}": float(_scores(ranker, pictures, prompts).mean())}
    return figures | {"seconds_per_picture": took / drawn}

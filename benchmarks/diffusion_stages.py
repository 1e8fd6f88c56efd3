"""The measurements of the two diffusion stages (issue #25): unconditional diffusion and GLIDE.

``measure_diffusion``: the oracle's validity and coverage and the sharpness of samples, and seconds per
picture, for DDPM with all its steps and DDIM with 50 / 20 / 10 (``ddpm_*``, ``ddim50_*``, ...); the
unprefixed figures are ``diffusion.evaluate``'s (DDIM, 50 steps), what the checkpoint's JSON records.

``measure_glide``: caption accuracy of one sample per prompt at the default guidance, canonical and
partial prompts (``caption_acc_*``, ``partial_caption_acc_*``), per guidance scale (``s{S}_caption_acc_*``),
the diversity of samples of one partial prompt per scale, CLIP's best of 16 (``best_of_16_*`` against
``random_*``), seconds per picture.
"""
from __future__ import annotations

from course_lib import datasets, diffusion, eval_sets, gan, glide, metrics

from .stages import Context, by_prompt_set, judge_candidates, ranked_by_clip
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


def measure_glide(ctx: Context) -> dict[str, float]:
    model, training = ctx.load("glide"), ctx.training("glide")
    n = ctx.budget.prompts

    def accuracy(**sampling):
        return lambda prompt_list: {"caption_acc": glide.caption_accuracy(model, prompt_list, **sampling)}

    figures = by_prompt_set(accuracy(), n)
    for scale in SCALES:
        per_scale = by_prompt_set(accuracy(scale=scale), n, partial=(False,))
        figures |= {f"s{scale}_{k}": v for k, v in per_scale.items()}
        spread = model.sample(["a red circle"] * 16, scale=scale, seed=eval_sets.PROMPT_SEED).cpu()
        figures[f"s{scale}_diversity"] = metrics.diversity(spread)
    draw = ranked_by_clip(lambda prompt_list, seed: model.sample(prompt_list, seed=seed), ctx.load("clip"))
    figures |= by_prompt_set(lambda prompt_list: judge_candidates(draw, prompt_list), n, partial=(False,))
    seen = eval_sets.prompts(min(n, 64), "train", "two")
    figures |= generation_speed(lambda: model.sample(seen), len(seen))
    step = glide.make_step(model.train(), training)
    return figures | training_speed(step, datasets.loader(glide.training_data(training), training.batch_size),
                                    ctx.budget.train_steps, training.batch_size)


"""Self-checks for notebooks 11_diffusion (x_0 from the predicted noise, one DDIM step) and 12_glide
(caption dropout, inpainting's put-back), each against diffusers or the library."""
from __future__ import annotations

import random
from typing import Callable

import torch

from .harness import Hint, attempt, call, compare, show


def _schedule(timesteps: int = 50):
    from ..diffusion_process import alphas_cumprod, betas

    beta = betas("linear", timesteps)
    return beta, alphas_cumprod(beta)


def predicted_x0(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 11, exercise 1: ``fn(x_t, eps, t, alpha_bar)`` = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t, q_sample solved
    for x_0, checked against the ``pred_original_sample`` of diffusers' ``DDPMScheduler.step``."""
    from ..diffusion_process import scheduler

    _, alpha_bar = _schedule()
    theirs = scheduler("ddpm", "linear", 50)
    theirs.set_timesteps(50)
    generator = torch.Generator().manual_seed(1)
    x_t, eps = torch.randn(2, 3, 4, 4, generator=generator) * 1.5, torch.randn(2, 3, 4, 4, generator=generator)
    cases = [(f"x_t (2, 3, 4, 4), t={t}", (x_t, eps, t, alpha_bar)) for t in (49, 20, 1, 0)]
    return compare("predicted_x0", lambda x_t, eps, t, a: fn(x_t.clone(), eps.clone(), t, a),
                   lambda x_t, eps, t, a: theirs.step(eps, t, x_t).pred_original_sample, cases, tolerance=1e-4)


def ddim_step(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 11, exercise 2: ``fn(eps, x_t, alpha_bar_t, alpha_bar_prev)``, one deterministic DDIM step
    (η = 0), checked against diffusers' ``DDIMScheduler.step`` over 5 of 50 steps."""
    from ..diffusion_process import scheduler

    _, alpha_bar = _schedule()
    theirs = scheduler("ddim", "linear", 50)
    theirs.set_timesteps(5)
    generator = torch.Generator().manual_seed(2)
    x_t, eps = torch.randn(2, 3, 4, 4, generator=generator), torch.randn(2, 3, 4, 4, generator=generator)
    steps = theirs.timesteps.tolist()  # 49, 39, ..., 9
    cases = []
    for i, t in enumerate(steps):
        prev = alpha_bar[steps[i + 1]] if i + 1 < len(steps) else torch.tensor(1.0)
        cases.append((f"t={t} -> {steps[i + 1] if i + 1 < len(steps) else 'x_0'}", (eps, x_t, alpha_bar[t], prev, t)))
    return compare("ddim_step", lambda eps, x_t, a, a_prev, t: fn(eps.clone(), x_t.clone(), a, a_prev),
                   lambda eps, x_t, a, a_prev, t: theirs.step(eps, t, x_t).prev_sample, cases, tolerance=1e-4)


def caption_dropout(fn: Callable) -> bool:
    """Notebook 12, exercise 1: ``fn(prompts, prob, rng)`` replaces each caption by "" with probability
    ``prob``, drawing one ``rng.random()`` per caption in order (as ``bart.drop_captions``)."""
    from .. import bart

    prompts = [f"a red circle {where}" for where in ("at the top", "in the middle", "at the bottom")] * 200

    def run():
        for prob in (0.0, 0.15, 0.5, 1.0):
            got = call(fn, list(prompts), prob, random.Random(7), call=f"caption_dropout(600 prompts, prob={prob})")
            expected = bart.drop_captions(prompts, prob, random.Random(7))
            if not isinstance(got, list) or len(got) != len(prompts):
                raise Hint(f"with prob={prob} it returned {show(got)[:80]}; expected a list of {len(prompts)} captions")
            if got != expected:
                rate = sum(g == "" for g in got) / len(got)
                raise Hint(f"with prob={prob} and random.Random(7) it dropped {rate:.0%} of the captions, not the "
                           f"{sum(e == '' for e in expected) / len(expected):.0%} expected, or other ones: "
                           "draw rng.random() once per caption, in order, and drop when it is below prob")
        return "drops the expected captions at 0, 15, 50 and 100 %"

    return attempt("caption_dropout", run)


def put_back(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 12, exercise 2: ``fn(x, x0_known, redraw, t_prev, noise, alpha_bar)``: keep x where ``redraw``
    is 1, elsewhere the known x0 noised to step t_prev (x0 itself when t_prev < 0)."""
    from ..diffusion_process import q_sample

    _, alpha_bar = _schedule()

    def reference(x, x0, redraw, t_prev, noise, alpha_bar):
        known = x0 if t_prev < 0 else q_sample(x0, torch.full((len(x),), t_prev), noise, alpha_bar)
        return redraw * x + (1 - redraw) * known

    generator = torch.Generator().manual_seed(4)
    x, x0, noise = torch.randn(3, 2, 2, 4, 4, generator=generator).unbind(0)
    redraw = torch.zeros(2, 1, 4, 4)
    redraw[..., 2:] = 1
    cases = [(f"t_prev={t}", (x, x0, redraw, t, noise, alpha_bar)) for t in (49, 10, 0, -1)]
    return compare("put_back", lambda *a: fn(*(v.clone() if isinstance(v, torch.Tensor) else v for v in a)),
                   reference, cases)

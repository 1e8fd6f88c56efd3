"""Self-checks for notebook 13 (unCLIP and Imagen): the diffusion prior's loss, dynamic thresholding,
and the attribute-swap counter, each against the library."""
from __future__ import annotations

import itertools
from typing import Callable

import torch
import torch.nn.functional as F

from .harness import Hint, attempt, call, compare


def prior_loss(fn: Callable[..., torch.Tensor]) -> bool:
    """Exercise 1: ``fn(prior, z_text, z_image, t, noise, alpha_bar)`` = ‖prior(x_t, t, z_t) - x_0‖² (mean),
    x_0 = √D z_i, x_t = q_sample(x_0, t, noise): the prior predicts the embedding, not the noise."""
    from ..diffusion_process import alphas_cumprod, betas, q_sample
    from ..unclip import DiffusionPrior

    torch.manual_seed(0)
    prior = DiffusionPrior(dim=16, width=32, timesteps=50).eval()
    alpha_bar = alphas_cumprod(betas("cosine", 50))

    def reference(prior, z_text, z_image, t, noise, alpha_bar):
        x0 = z_image * z_image.shape[-1] ** 0.5
        return F.mse_loss(prior(q_sample(x0, t, noise, alpha_bar), t, z_text), x0)

    generator = torch.Generator().manual_seed(3)
    z_text, z_image = (F.normalize(torch.randn(4, 16, generator=generator), dim=-1) for _ in range(2))
    noise = torch.randn(4, 16, generator=generator)
    cases = [(f"4 pairs of 16-number embeddings at t={t}", (prior, z_text, z_image, torch.full((4,), t), noise, alpha_bar))
             for t in (0, 25, 49)]
    with torch.no_grad():
        return compare("prior_loss", fn, reference, cases, tolerance=1e-4)


def my_dynamic_threshold(fn: Callable[..., torch.Tensor]) -> bool:
    """Exercise 2: ``fn(x0, percentile)``, Imagen's dynamic thresholding, against ``diffusion_process.dynamic_threshold``."""
    from ..diffusion_process import dynamic_threshold

    generator = torch.Generator().manual_seed(5)
    x0 = torch.randn(3, 2, 4, 4, generator=generator) * torch.tensor([0.3, 2.0, 6.0]).view(3, 1, 1, 1)
    cases = [(f"x0 of 3 samples with spread 0.3, 2 and 6, percentile {p}", (x0.clone(), p)) for p in (0.995, 0.9, 0.5)]
    return compare("my_dynamic_threshold", fn, dynamic_threshold, cases)


def my_swap_kind(fn: Callable) -> bool:
    """Exercise 3: ``fn(scene, spec)`` -> "colour", "shape", "position" or None, against ``swaps.swap_kind``
    on every way of drawing two objects in a row for a prompt (right, each swap, and other mistakes)."""
    from .. import captions, swaps
    from ..shapes import Obj, Scene

    prompt = "a red circle to the left of a blue square"
    spec = captions.parse(prompt)
    objects = [(shape, colour) for shape in ("circle", "square", "triangle") for colour in ("red", "blue", "green")]

    def run():
        checked = 0
        for (s1, c1), (s2, c2) in itertools.product(objects, objects):
            if c1 == c2:
                continue
            for cells in ((3, 5), (5, 3), (1, 4)):  # left of, right of, above
                scene = Scene((Obj(s1, c1, "big", cells[0]), Obj(s2, c2, "big", cells[1])))
                got = call(fn, scene, spec, call=f"my_swap_kind(<{captions.describe(scene)}>, spec)")
                expected = swaps.swap_kind(scene, spec)
                if got != expected:
                    raise Hint(f"for the prompt {prompt!r} and a picture of {captions.describe(scene)!r} it returned "
                               f"{got!r}; expected {expected!r}")
                checked += 1
        return f"right on {checked} scenes"

    return attempt("my_swap_kind", run)

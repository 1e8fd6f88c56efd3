"""Self-checks for notebooks 03_autoencoder and 04_vae: walking and mapping the latent space, the
mean squared error, the VAE's loss, sampling with a temperature and the conditional VAE's mistakes
on held-out combinations."""
from __future__ import annotations

from typing import Callable

import torch

from .. import oracle, shapes
from .harness import compare


def _tiny_autoencoder(latent_dim: int, vae: bool = False):
    from .. import autoencoder
    from ..train import seeded

    config_cls, model_cls = (autoencoder.VAEConfig, autoencoder.VAE) if vae else (autoencoder.AEConfig, autoencoder.Autoencoder)
    with seeded(1):
        return model_cls(config_cls(latent_dim=latent_dim, width=4, hidden=16)).eval()


# --- notebook 03: autoencoder -------------------------------------------------------------------

def interpolate(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 03, exercise 1: ``fn(model, a, b, steps)`` decodes ``steps`` points from e(a) to e(b)."""
    model = _tiny_autoencoder(3)
    pictures = shapes.render(shapes.sample_scenes(3, seed=8, kind="one"))

    @torch.no_grad()
    def reference(model, a, b, steps):
        za, zb = model.encode(torch.stack([a, b]))
        t = torch.linspace(0, 1, steps).unsqueeze(1)
        return model.decode((1 - t) * za + t * zb)

    cases = [(f"a tiny autoencoder, pictures {i} and {j}, steps={steps}", (model, pictures[i], pictures[j], steps))
             for i, j, steps in ((0, 1, 8), (1, 2, 2), (2, 0, 5))]
    return compare("interpolate", fn, reference, cases)


class _HalfPlaneDecoder(torch.nn.Module):
    """A stand-in 2-D decoder: a red circle where z's first number is above ``edge``, black elsewhere."""

    def __init__(self, edge: float):
        super().__init__()
        self.edge = torch.nn.Parameter(torch.tensor(float(edge)), requires_grad=False)
        self.picture = shapes.render([shapes.Scene((shapes.Obj("circle", "red", "big", 4),))])[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z[:, :1, None, None] > self.edge).float() * self.picture


def grid_validity(fn: Callable[..., float]) -> bool:
    """Notebook 03, exercise 2: the share of ``latent_grid(model, points, n)``'s decodes that are valid."""
    from .. import autoencoder

    def reference(model, points, n):
        return oracle.validity(autoencoder.latent_grid(model, points, n)[1])

    square, wide = torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), torch.tensor([[0.0, 0.0], [3.0, 0.5], [1.0, -2.0]])
    cases = [(f"a decoder valid where z[0] > {edge}, points {points.tolist()}, n={n}", (_HalfPlaneDecoder(edge), points, n))
             for edge, points, n in ((0.0, square, 4), (0.5, square, 5), (2.0, wide, 3))]
    return compare("grid_validity", fn, reference, cases, tolerance=1e-9)


def mse_loss(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 03, exercise 3: ``fn(logits, images, variance)`` = the mean squared error between
    ``sigmoid(logits)`` and ``images`` over every pixel value, divided by ``variance``."""
    images = shapes.render(shapes.sample_scenes(3, seed=10, kind="one"))
    logits = torch.randn(images.shape, generator=torch.Generator().manual_seed(2))

    def reference(logits, images, variance):
        return (torch.sigmoid(logits) - images).pow(2).mean() / variance

    cases = [(f"3 pictures, {what} logits, variance={variance}", (l, images, variance))
             for what, l, variance in (("random", logits, 1.0), ("random", logits, 0.05),
                                       ("all -6 (an almost black picture)", torch.full_like(images, -6.0), 1.0))]
    return compare("mse_loss", lambda l, x, variance: fn(l.clone(), x.clone(), variance), reference, cases, tolerance=1e-6)


# --- notebook 04: VAE ---------------------------------------------------------------------------

def vae_loss(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 04, exercise 1: ``fn(model, images, beta, generator)`` = reconstruction + beta * KL."""
    from .. import autoencoder

    model = _tiny_autoencoder(2, vae=True)
    images = shapes.render(shapes.sample_scenes(4, seed=9, kind="one"))

    def reference(model, images, beta, seed):
        mu, logvar = model.encode(images)
        z = autoencoder.reparameterize(mu, logvar, torch.Generator().manual_seed(seed))
        return autoencoder.reconstruction_loss(model.decoder(z), images) + beta * autoencoder.kl_divergence(mu, logvar)

    cases = [(f"a tiny VAE, 4 pictures, beta={beta}, generator seeded {seed}", (model, images, beta, seed))
             for beta, seed in ((1.0, 0), (4.0, 0), (0.0, 3))]
    return compare("vae_loss", lambda m, x, beta, seed: fn(m, x, beta, torch.Generator().manual_seed(seed)),
                   reference, cases, tolerance=1e-4)


def sample_with_temperature(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 04, exercise 2: ``fn(model, n, t, generator)`` decodes t × eps, eps ~ N(0, I) (n, latent_dim)."""
    model = _tiny_autoencoder(2, vae=True)

    @torch.no_grad()
    def reference(model, n, t, seed):
        return model.decode(t * torch.randn(n, model.config.latent_dim, generator=torch.Generator().manual_seed(seed)))

    cases = [(f"a tiny VAE, n={n}, t={t}, generator seeded {seed}", (model, n, t, seed))
             for n, t, seed in ((4, 1.0, 5), (3, 0.5, 0), (2, 2.0, 1))]
    return compare("sample_with_temperature", lambda m, n, t, seed: fn(m, n, t, torch.Generator().manual_seed(seed)),
                   reference, cases, tolerance=1e-5)


class _MisdrawsShapes:
    """A stand-in conditional model: draws each one-object caption's scene, but with the next shape
    for the pictures whose draw from ``generator`` falls below ``wrong`` (a wrong shape, nothing else)."""

    def __init__(self, wrong: float):
        self.wrong = wrong

    def generate(self, prompts, generator=None) -> torch.Tensor:
        from .. import captions

        misdrawn = torch.rand(len(prompts), generator=generator) < self.wrong  # (N,)
        scenes = []
        for prompt, wrong in zip(prompts, misdrawn.tolist()):
            spec = captions.parse(prompt).objects[0]
            shape = shapes.SHAPES[(shapes.SHAPES.index(spec.shape) + 1) % len(shapes.SHAPES)] if wrong else spec.shape
            scenes.append(shapes.Scene((shapes.Obj(shape, spec.color, spec.size, spec.cell),)))
        return shapes.render(scenes)


def pair_mistakes(fn: Callable[..., dict]) -> bool:
    """Notebook 04, exercise 3: ``fn(model, colour, shape, generator)`` = ``oracle.mistake_counts`` of
    one ``model.generate`` picture for each of the 18 canonical captions of a ``colour`` ``shape``
    (both sizes, all nine cells)."""
    from .. import captions

    def reference(model, colour, shape, seed):
        prompts = [captions.describe(shapes.Scene((shapes.Obj(shape, colour, size, cell),)))
                   for size in shapes.SIZES for cell in range(len(shapes.POSITIONS))]
        return oracle.mistake_counts(model.generate(prompts, torch.Generator().manual_seed(seed)), prompts)

    cases = [(f"a stand-in model that draws a wrong shape {wrong:.0%} of the time, a {colour} {shape}, generator seeded {seed}",
              (_MisdrawsShapes(wrong), colour, shape, seed))
             for wrong, colour, shape, seed in ((0.0, "purple", "triangle", 0), (0.3, "cyan", "square", 1),
                                                (0.5, "yellow", "diamond", 2))]
    return compare("pair_mistakes", lambda m, colour, shape, seed: fn(m, colour, shape, torch.Generator().manual_seed(seed)),
                   reference, cases)

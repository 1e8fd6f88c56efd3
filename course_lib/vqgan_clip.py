"""VQGAN + CLIP: draw a prompt by optimising a VQ-GAN's latent grid until CLIP finds the picture relevant.

Crowson et al. 2022, "VQGAN-CLIP: Open Domain Image Generation and Editing with Natural Language
Guidance" (the community's notebooks of 2021, written up). No network learns to turn text into pictures:

    z  (B, D, 8, 8), continuous          the only thing that learns
    z_q = nearest code of each z, straight-through (value of the code, gradient of z; ``course_lib.vq``)
    picture = VQ-GAN decoder(z_q)        (B, 3, 32, 32)
    loss = -CLIP relevance(augmented copies of the picture, prompt)     Adam on z, CLIP frozen

The **augmentations** are what made the method work in practice: CLIP's gradient on one picture finds
pixel patterns CLIP likes that show nothing (an adversarial example), so each step scores several
random crops of the picture, resized back and with Gaussian noise added ("cutouts"), and averages:
only what survives shifting, zooming and noise still raises the score. ``Augmentation`` is shared with
CLIP-guided diffusion (``course_lib.clip_guidance``). As Crowson et al. do, z is clamped to the
codebook's range after each step, so the straight-through gradient is taken near real codes.

**Start** (Crowson et al. start from random codes or an init picture): the latent of the empty black
picture, jittered by seeded Gaussian noise, since ShapesWorld pictures are mostly black background.
Tried on the shipped models, it climbed to higher CLIP scores in the same steps than random codes did.

What only the oracle can show: CLIP's score climbs to what CLIP gives true pictures of the caption
while the oracle reads no valid scene. ``VqganClipResult.trace`` records both along the steps, and
``Trace.fooled`` counts the pictures CLIP is pleased with and the oracle calls wrong.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import torch

from . import captions, device_of, oracle
from .clip import SCORE_SCALE, ShapesCLIP
from .vq import quantize
from .vqvae import VQVAE


def straight_through(x: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Exactly ``value`` in the forward pass, the gradient of ``x`` in the backward pass (the
    straight-through estimator, Bengio et al. 2013), written as ``course_lib.vq`` writes it."""
    return value.detach() + (x - x.detach())


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The community's augmentations: ``cutouts`` copies of each picture, each a random square crop of
    side ``crop_min`` to 1 of the picture, resized back (a shift and a zoom), plus Gaussian noise of
    standard deviation ``noise``. Crops stay large because here position and size are in the caption."""

    cutouts: int = 8
    crop_min: float = 0.8
    noise: float = 0.1

    def __post_init__(self):
        if not isinstance(self.cutouts, int) or self.cutouts < 1:
            raise ValueError(f"cutouts must be a whole number of at least 1, got {self.cutouts!r}")
        if not 0 < self.crop_min <= 1:
            raise ValueError(f"crop_min is the smallest crop's side as a share of the picture: from 0 (excluded) "
                             f"to 1 (no crop), got {self.crop_min!r}")
        if self.noise < 0:
            raise ValueError(f"noise is a standard deviation: 0 or more, got {self.noise!r}")

    def __call__(self, pictures: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Pictures (B, 3, S, S) -> augmented copies (cutouts·B, 3, S, S), cutout-major, differentiable.
        Crops and noise are drawn on the CPU from ``generator``; each crop is shared by the batch."""
        from torchvision.transforms.v2.functional import resized_crop

        size, copies = pictures.shape[-1], []
        for _ in range(self.cutouts):
            side = int(torch.randint(max(1, round(self.crop_min * size)), size + 1, (), generator=generator))
            top, left = torch.randint(0, size - side + 1, (2,), generator=generator).tolist()
            copy = resized_crop(pictures, top, left, side, side, [size, size], antialias=True)
            copies.append(copy + self.noise * torch.randn(copy.shape, generator=generator).to(copy.device))
        return torch.cat(copies)


NO_AUGMENTATION = Augmentation(cutouts=1, crop_min=1.0, noise=0.0)  # the picture itself, once


def text_targets(clip_model: ShapesCLIP, prompts: Sequence[str]) -> torch.Tensor:
    """CLIP's unit text embeddings (B, E) of checked prompts: a prompt the caption grammar (and so the
    oracle) cannot read raises ``captions.CaptionError`` here, before any slow work."""
    with torch.no_grad():
        return clip_model.encode_text(captions.check_prompts(prompts))


def augmented_relevance(clip_model: ShapesCLIP, pictures: torch.Tensor, target: torch.Tensor,
                        augmentation: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """CLIP relevance (100 × cosine) of each picture (B, 3, 32, 32) to its target embedding (B, E),
    averaged over its augmented copies: (B,), differentiable with respect to the pictures."""
    copies = clip_model.encode_image(augmentation(pictures, generator))  # (cutouts·B, E)
    return SCORE_SCALE * (copies.view(augmentation.cutouts, *target.shape) * target).sum(-1).mean(0)


def pictures_from_codes(vqgan: VQVAE, codes: torch.Tensor) -> torch.Tensor:
    """Codes (B, D, 8, 8) -> pictures (B, 3, 32, 32) by the VQ-GAN's decoder, clamped to [0, 1] with
    the gradient passed straight through the clamp (as Crowson et al.'s ``clamp_with_grad``)."""
    pictures = vqgan.decoder(codes)
    return straight_through(pictures, pictures.clamp(0, 1))


def draw(vqgan: VQVAE, latents: torch.Tensor) -> torch.Tensor:
    """Continuous latents (B, D, 8, 8) -> pictures (B, 3, 32, 32): each position snapped to its nearest
    code (straight-through), then decoded. Differentiable with respect to the latents."""
    b, d, h, w = latents.shape
    flat = latents.permute(0, 2, 3, 1).reshape(-1, d)                        # (B·64, D)
    codes, _ = quantize(flat.detach(), vqgan.quantizer.codebook.detach())  # (B·64, D)
    snapped = straight_through(flat, codes).view(b, h, w, d).permute(0, 3, 1, 2)
    return pictures_from_codes(vqgan, snapped)


@dataclasses.dataclass(frozen=True)
class VqganClipConfig:
    """One optimisation: Adam's ``steps`` and ``lr`` on the latents, the augmentations (``augment``
    switches them off for the comparison), the jitter of the start, and the seed of start and crops."""

    steps: int = 150
    lr: float = 0.1            # Crowson et al.'s default
    augment: bool = True
    cutouts: int = 8
    crop_min: float = 0.8
    noise: float = 0.1
    init_noise: float = 0.5    # standard deviation of the jitter on the blank picture's latent
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be a whole number of at least 1 (Adam steps on the latents), "
                             f"got {self.steps!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be above 0 (Adam's learning rate on the latents; 0.1 is usual), got {self.lr!r}")
        if self.init_noise < 0:
            raise ValueError(f"init_noise is a standard deviation: 0 or more, got {self.init_noise!r}")
        self.augmentation()  # checks cutouts, crop_min and noise

    def augmentation(self) -> Augmentation:
        """The augmentations in force: the configured ones, or ``NO_AUGMENTATION``."""
        return Augmentation(self.cutouts, self.crop_min, self.noise) if self.augment else NO_AUGMENTATION


@dataclasses.dataclass
class Trace:
    """CLIP's and the oracle's view of the pictures along the optimisation (on the CPU)."""

    steps: list[int]        # the recorded steps, from 0 (the start) to the last
    scores: torch.Tensor    # (S, B) CLIP relevance of each picture to its prompt, unaugmented
    correct: torch.Tensor   # (S, B) bool: the oracle reads the prompt's scene off the picture

    def mean_scores(self) -> torch.Tensor:
        """(S,) mean CLIP relevance at each recorded step."""
        return self.scores.mean(1)

    def accuracy(self) -> torch.Tensor:
        """(S,) oracle caption accuracy at each recorded step."""
        return self.correct.float().mean(1)

    def fooled(self, threshold: float | torch.Tensor) -> torch.Tensor:
        """(S,) share of pictures CLIP scores at least ``threshold`` (a number, or (B,) one per prompt:
        e.g. what CLIP gives a true picture of the caption) while the oracle says they are wrong."""
        return ((self.scores >= threshold) & ~self.correct).float().mean(1)


@dataclasses.dataclass
class VqganClipResult:
    """What ``optimise`` returns, on the CPU: the final pictures and scores, the trace, and the wall
    seconds the optimisation took (its records by CLIP and the oracle included)."""

    pictures: torch.Tensor  # (B, 3, 32, 32) in [0, 1]
    scores: torch.Tensor    # (B,) CLIP relevance of each final picture to its prompt
    trace: Trace
    seconds: float


def blank_latents(vqgan: VQVAE, n: int, jitter: float, generator: torch.Generator) -> torch.Tensor:
    """The start: the encoder's latent of the empty black picture (n, D, 8, 8), plus seeded noise."""
    device = device_of(vqgan)
    with torch.no_grad():
        blank = vqgan.encoder(-torch.ones(1, 3, 32, 32, device=device))  # black: 0 in [0, 1], -1 in its input
    return blank + jitter * torch.randn((n, *blank.shape[1:]), generator=generator).to(device)


def optimise(vqgan: VQVAE, clip_model: ShapesCLIP, prompts: Sequence[str],
             config: VqganClipConfig = VqganClipConfig(), *, record_every: int = 10) -> VqganClipResult:
    """One picture per prompt by VQGAN + CLIP: ``config.steps`` Adam steps on the latents to raise
    CLIP's (augmented) relevance; CLIP's plain score and the oracle's verdict are recorded at step 0,
    every ``record_every`` steps and at the end. The same seed gives the same pictures."""
    if not isinstance(record_every, int) or record_every < 1:
        raise ValueError(f"record_every must be a whole number of at least 1 (steps between records), "
                         f"got {record_every!r}")
    target = text_targets(clip_model, prompts)  # (B, E); the prompts are checked here
    prompts = list(prompts)
    generator = torch.Generator().manual_seed(config.seed)
    latents = blank_latents(vqgan, len(prompts), config.init_noise, generator).requires_grad_()  # (B, D, 8, 8)
    codebook = vqgan.quantizer.codebook.detach()
    low, high = codebook.min(0).values[:, None, None], codebook.max(0).values[:, None, None]  # (D, 1, 1)
    optimizer = torch.optim.Adam([latents], lr=config.lr)
    augmentation, steps, scores, correct = config.augmentation(), [], [], []

    def record(step: int) -> torch.Tensor:
        with torch.no_grad():
            pictures = draw(vqgan, latents).cpu()
            score = SCORE_SCALE * (clip_model.encode_image(pictures) * target).sum(-1).cpu()
        steps.append(step)
        scores.append(score)
        correct.append(torch.tensor(oracle.caption_correct(pictures, prompts)))
        return pictures

    start = time.perf_counter()
    for step in range(config.steps):
        if step % record_every == 0:
            record(step)
        relevance = augmented_relevance(clip_model, draw(vqgan, latents), target, augmentation, generator)  # (B,)
        (latents.grad,) = torch.autograd.grad(-relevance.sum(), [latents])  # no gradient reaches CLIP or the VQ-GAN
        optimizer.step()
        with torch.no_grad():
            latents.copy_(torch.maximum(torch.minimum(latents, high), low))
    pictures = record(config.steps)
    trace = Trace(steps, torch.stack(scores), torch.stack(correct))
    return VqganClipResult(pictures, trace.scores[-1], trace, time.perf_counter() - start)

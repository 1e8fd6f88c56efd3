"""CLIP guidance: an unconditional diffusion model steered towards a prompt by CLIP's gradient.

Disco Diffusion's idea (2021), the community's other way to draw from text with no text-to-image
network trained; GLIDE (Nichol et al. 2022, section 3.2 "CLIP guidance") compares it with
classifier-free guidance. It is classifier guidance (Dhariwal & Nichol 2021, "Diffusion Models Beat
GANs on Image Synthesis", algorithm 2) with CLIP's relevance in place of the classifier's log p(y | x_t):

    ε̂'(x_t) = ε_θ(x_t) - s · √(1 - ᾱ_t) · ∇_{x_t} relevance(picture(x̂_0(x_t)), prompt)

GLIDE's CLIP was trained on noised pictures and reads x_t itself; the course's CLIP (notebook 08) has
only seen clean ones, so, as Disco Diffusion does, CLIP reads the clean picture the step points to:
x̂_0 = (x_t - √(1 - ᾱ_t) ε_θ(x_t)) / √ᾱ_t, clipped to [-1, 1] as the sampler clips it, decoded, scored
with the augmentations of VQGAN + CLIP (``vqgan_clip.Augmentation``), and differentiated back through
the decoder and the U-Net to x_t.

**The gradient is cut** to a root mean square of ``max_grad`` per picture, as Disco Diffusion does
(its ``clamp_grad``). Near t = T, ᾱ_t is almost 0 and x̂_0 divides x_t by √ᾱ_t: the few entries of x̂_0
inside [-1, 1] there pass a gradient tens of times larger than at later steps, and even a small scale
then throws the first step, and every picture, off. The clip of x̂_0 is a real clamp (no gradient
where it cuts), the derivative of the picture the step commits to.

The decode must be differentiable, and ``Codec.decode`` is not (it snaps each position to its nearest
code). ``decode`` here maps x̂_0's components back to codes on their plane (``Codec.codes``), snaps them
to the code ``Codec.decode`` would pick, straight-through (the forward pass draws exactly the picture
the sampler would, the gradient flows as if the snap were the identity), and runs the VQ-GAN decoder.

s = 0 is the unconditional model, and ``sample`` then draws ``Diffusion.sample``'s pictures for the same
seed (the same loop, scheduler and x_T). The augmentations draw from their own generator, so x_T is
the same at every scale.
"""
from __future__ import annotations

from typing import Sequence

import torch

from . import device_of
from .clip import ShapesCLIP
from .diffusion import Codec, Diffusion
from .diffusion_process import Denoiser, alphas_cumprod, predicted_x0, sample_loop
from .vqgan_clip import Augmentation, augmented_relevance, pictures_from_codes, straight_through, text_targets

DEFAULT_STEPS = 20  # DDIM steps unless told
MAX_GRAD = 1.0  # largest root mean square of a picture's relevance gradient (Disco Diffusion's clamp_max)


def decode(codec: Codec, x0: torch.Tensor) -> torch.Tensor:
    """x̂_0 (B, C, S, S) -> pictures (B, 3, 32, 32) in [0, 1], the pictures ``codec.decode`` draws, but
    differentiable: in latent space the snap to the nearest code and the clamp are straight-through."""
    if codec.space == "pixel":
        pictures = (x0 + 1) / 2
        return straight_through(pictures, pictures.clamp(0, 1))
    continuous = codec.codes(x0.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (B, D, 8, 8)
    snapped = codec.vq.quantizer.lookup(codec.nearest_codes(x0.detach()))  # (B, D, 8, 8)
    return pictures_from_codes(codec.vq, straight_through(continuous, snapped))


def guided_denoiser(model: Diffusion, clip_model: ShapesCLIP, target: torch.Tensor, scale: float,
                    augmentation: Augmentation, generator: torch.Generator, max_grad: float) -> Denoiser:
    """x_t (B, C, S, S), t -> ε̂ shifted by -scale · √(1 - ᾱ_t) · ∇_{x_t} relevance to ``target`` (B, E),
    each picture's gradient cut to a root mean square of at most ``max_grad``."""
    alpha_bar = alphas_cumprod(model.betas)  # (T,)

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = alpha_bar[t]
        with torch.enable_grad():  # sample_loop runs without gradients
            x = x_t.detach().requires_grad_()
            eps = model(x, t)  # (B, C, S, S)
            pictures = decode(model.codec, predicted_x0(eps, x, a).clamp(-1, 1))  # as the sampler clips x̂_0
            relevance = augmented_relevance(clip_model, pictures, target, augmentation, generator)  # (B,)
            (grad,) = torch.autograd.grad(relevance.sum(), [x])  # no gradient reaches the models' weights
        return guided_eps(eps.detach(), grad, a, scale, max_grad)

    return denoise


def guided_eps(eps: torch.Tensor, grad: torch.Tensor, alpha_bar_t: torch.Tensor, scale: float,
               max_grad: float = MAX_GRAD) -> torch.Tensor:
    """ε̂' = ε̂ - scale · √(1 - ᾱ_t) · g, g the relevance gradient (B, C, S, S) scaled down, picture by
    picture, to a root mean square of at most ``max_grad`` (a gradient already within it is kept)."""
    rms = grad.pow(2).mean(dim=tuple(range(1, grad.dim())), keepdim=True).sqrt()  # (B, 1, 1, 1)
    return eps - scale * (1 - alpha_bar_t).sqrt() * grad * (max_grad / rms).clamp(max=1)


def check_scale(scale: float) -> None:
    """A CLIP guidance scale is a number of 0 or more; say so before sampling."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 0:
        raise ValueError(f"CLIP guidance scale {scale!r} must be a number of 0 or more; 0 is the unguided model")


def sample(model: Diffusion, clip_model: ShapesCLIP, prompts: Sequence[str], *, scale: float,
           steps: int = DEFAULT_STEPS, seed: int = 0, sampler: str = "ddim",
           augmentation: Augmentation = Augmentation(), max_grad: float = MAX_GRAD) -> torch.Tensor:
    """One picture per prompt (B, 3, 32, 32) in [0, 1] on the model's device: ``model`` (unconditional,
    ``Diffusion``) sampled with CLIP guidance of ``scale``, in one batch. A bad prompt, scale or number
    of steps raises before any sampling; the same seed gives the same pictures."""
    check_scale(scale)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1 (DDIM steps; {DEFAULT_STEPS} is usual), "
                         f"got {steps!r}")
    target = text_targets(clip_model, prompts)  # (B, E); the prompts are checked here
    prompts = list(prompts)
    was_training = model.training
    model.eval()
    denoise = (model if scale == 0 else
               guided_denoiser(model, clip_model, target, scale, augmentation, torch.Generator().manual_seed(seed + 1),
                                max_grad))
    x = sample_loop(denoise, model.scheduler(sampler), (len(prompts), *model.codec.shape),
                    model.sampling_steps(sampler, steps), generator=torch.Generator().manual_seed(seed),
                    device=device_of(model))
    model.train(was_training)
    return model.codec.decode(x)

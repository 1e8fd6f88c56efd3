"""The diffusion process itself: noise schedules, q(x_t | x_0), the ε-prediction loss, one reverse step.

Ho et al. (2020), "Denoising Diffusion Probabilistic Models"; slides "Introducing diffusion concept".
A picture x_0 is destroyed by T small steps of Gaussian noise, x_t = √(1 - β_t) x_{t-1} + √β_t ε. The
steps compose, so any x_t can be drawn from x_0 in one go (``q_sample``):

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I),   ᾱ_t = Π_{s ≤ t} (1 - β_s).

A network ε_θ(x_t, t) learns to name the noise that was added: the loss is the mean squared error
between ε and ε_θ(√ᾱ_t x_0 + √(1 - ᾱ_t) ε, t) (``epsilon_loss``, Ho et al.'s "simple" loss). Sampling
walks back from x_T ~ N(0, I), one reverse step at a time (``ddpm_step``): estimate x_0 from the
predicted noise, then draw x_{t-1} from the Gaussian posterior q(x_{t-1} | x_t, x_0).

Two schedules of β (``betas``): Ho et al.'s linear one, and Nichol & Dhariwal's (2021) cosine one,
whose ᾱ_t falls slowly at both ends, so that fewer of the T steps are spent on pictures that are
already pure noise. The linear β's are stretched by 1000/T so that a short chain (T = 250) ends in
noise as Ho et al.'s 1000 steps do.

What the notebooks write in a few lines lives here, and each piece is checked against Hugging Face
``diffusers``, which the course uses to sample (``scheduler`` builds its DDPM and DDIM schedulers
with the same β's; ``tests/test_diffusion.py`` proves them equal). ``sample_loop`` is the reverse
process for any denoiser and any of those schedulers: DDPM (all T steps, random) or DDIM (Song et
al. 2021: a few deterministic steps).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ddpm", "ddim")
LINEAR_BETAS = (1e-4, 0.02)  # Ho et al.'s first and last β for T = 1000
COSINE_OFFSET = 0.008  # Nichol & Dhariwal's s: keeps β_1 from being vanishingly small
MAX_BETA = 0.999  # the cosine schedule's last β's are clipped here (Nichol & Dhariwal, section 3.2)
DYNAMIC_PERCENTILE = 0.995  # Imagen's p: dynamic thresholding's s is this quantile of |x̂_0| (Saharia et al. 2022)


def betas(schedule: str, timesteps: int) -> torch.Tensor:
    """β_1 .. β_T (T,) of the ``"linear"`` or ``"cosine"`` schedule."""
    if schedule == "linear":
        start, end = (b * 1000 / timesteps for b in LINEAR_BETAS)
        return torch.linspace(start, end, timesteps, dtype=torch.float32)
    if schedule == "cosine":
        def alpha_bar(t: float) -> float:
            return math.cos((t / timesteps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2

        return torch.tensor([min(1 - alpha_bar(i + 1) / alpha_bar(i), MAX_BETA) for i in range(timesteps)],
                            dtype=torch.float32)
    raise ValueError(f"unknown noise schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")


def alphas_cumprod(beta: torch.Tensor) -> torch.Tensor:
    """ᾱ_t = Π_{s ≤ t} (1 - β_s): (T,), the share of the picture's variance left at step t."""
    return torch.cumprod(1 - beta, 0)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε for x0 (B, ...) (pictures, latents, embeddings), steps t (B,) and noise ε like x0."""
    a = alpha_bar.to(x0.device)[t].view(-1, *[1] * (x0.dim() - 1))  # (B, 1, ...)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def epsilon_loss(predicted_noise: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Ho et al.'s simple loss: ‖ε - ε_θ(x_t, t)‖², averaged over every number of the batch."""
    return F.mse_loss(predicted_noise, noise)


def predicted_x0(eps: torch.Tensor, x_t: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """x̂_0 = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t: the clean sample the predicted noise ``eps`` points to
    (``q_sample`` solved for x_0), like x_t; ``alpha_bar_t`` is ᾱ at x_t's step."""
    return (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()


def ddpm_step(eps: torch.Tensor, t: int, x_t: torch.Tensor, beta: torch.Tensor, noise: torch.Tensor,
              clip: bool = False) -> torch.Tensor:
    """One reverse step x_t -> x_{t-1} of DDPM, from the predicted noise ``eps`` (like x_t).

    x̂_0 = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t (clipped to [-1, 1] with ``clip``, for pictures); then the mean of
    q(x_{t-1} | x_t, x̂_0) plus σ_t · ``noise``, with σ_t² = β̃_t = (1 - ᾱ_{t-1}) / (1 - ᾱ_t) β_t
    (Ho et al., eqs. 6-7); no noise at the last step, t = 0."""
    alpha_bar = alphas_cumprod(beta)
    a_t, a_prev = alpha_bar[t], (alpha_bar[t - 1] if t > 0 else torch.tensor(1.0))
    x0 = predicted_x0(eps, x_t, a_t)
    if clip:
        x0 = x0.clamp(-1, 1)
    mean = (a_prev.sqrt() * beta[t] * x0 + (1 - beta[t]).sqrt() * (1 - a_prev) * x_t) / (1 - a_t)
    if t == 0:
        return mean
    variance = (1 - a_prev) / (1 - a_t) * beta[t]
    return mean + variance.sqrt() * noise


def dynamic_threshold(x0: torch.Tensor, percentile: float = DYNAMIC_PERCENTILE) -> torch.Tensor:
    """Imagen's dynamic thresholding of a predicted x̂_0 (B, ...) (Saharia et al. 2022, section 2.3).

    Static clipping cuts x̂_0 to [-1, 1]; at a high guidance scale the guided prediction overshoots
    that range and clipping flattens it into saturated pictures. Dynamic thresholding takes, for each
    sample, s = the ``percentile`` quantile of |x̂_0|; where s > 1 it clips to [-s, s] and divides by s,
    pulling the whole sample back into range instead of cutting its tails. (diffusers' schedulers do the
    same with ``thresholding=True``; ``tests/test_imagen.py`` proves the two equal.)"""
    flat = x0.reshape(len(x0), -1)
    s = torch.quantile(flat.abs().float(), percentile, dim=1).clamp_min(1).to(x0.dtype)  # (B,)
    s = s.view(-1, *([1] * (x0.dim() - 1)))
    return torch.maximum(torch.minimum(x0, s), -s) / s


def scheduler(sampler: str, schedule: str, timesteps: int, clip: bool = False, dynamic: bool = False,
              prediction: str = "epsilon"):
    """diffusers' ``DDPMScheduler`` or ``DDIMScheduler`` with the β's of ``betas(schedule, timesteps)``.

    ``clip`` cuts x̂_0 to [-1, 1] at every step (static clipping); ``dynamic`` uses Imagen's dynamic
    thresholding there instead (``dynamic_threshold``). ``prediction`` is what the network predicts:
    the noise ("epsilon", Ho et al.) or x_0 itself ("sample", as unCLIP's prior does).

    DDIM starts from the last step, t = T - 1 ("trailing" spacing; Lin et al. 2024 show that the
    default "leading" spacing starts from a picture that is not yet pure noise when steps are few)."""
    from diffusers import DDIMScheduler, DDPMScheduler

    if schedule not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    named = ({"beta_schedule": "squaredcos_cap_v2"} if schedule == "cosine" else
             {"beta_schedule": "linear", "beta_start": LINEAR_BETAS[0] * 1000 / timesteps,
              "beta_end": LINEAR_BETAS[1] * 1000 / timesteps})
    common = dict(num_train_timesteps=timesteps, clip_sample=clip and not dynamic, timestep_spacing="trailing",
                  thresholding=dynamic, dynamic_thresholding_ratio=DYNAMIC_PERCENTILE, sample_max_value=1e6,
                  prediction_type=prediction, **named)
    if sampler == "ddpm":
        return DDPMScheduler(variance_type="fixed_small", **common)
    if sampler == "ddim":
        return DDIMScheduler(set_alpha_to_one=True, **common)
    raise ValueError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}")


Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (B, C, H, W), t ()) -> ε̂ like x_t


@torch.no_grad()
def sample_loop(denoise: Denoiser, noise_scheduler, shape: tuple[int, ...], steps: int, *,
                generator: torch.Generator, device: torch.device | str = "cpu",
                keep: Callable[[int, torch.Tensor], None] | None = None,
                after_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None) -> torch.Tensor:
    """The reverse process: x_T ~ N(0, I) of ``shape``, then ``steps`` steps of ``noise_scheduler``.

    Noise is drawn on the CPU from ``generator`` (the same seed gives the same pictures on every
    device). ``keep(t, x_t)`` sees each intermediate (a film strip); ``after_step(x, t_prev)`` may
    change x after each step (inpainting puts the known part back there)."""
    noise_scheduler.set_timesteps(steps)
    x = torch.randn(shape, generator=generator).to(device)
    timesteps = noise_scheduler.timesteps
    for i, t in enumerate(timesteps):
        eps = denoise(x, t.to(device))
        x = noise_scheduler.step(eps, t, x, generator=generator).prev_sample  # DDPM draws σ_t z from generator
        if after_step is not None:
            x = after_step(x, int(timesteps[i + 1]) if i + 1 < len(timesteps) else -1)
        if keep is not None:
            keep(int(t), x)
    return x

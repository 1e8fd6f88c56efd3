"""Unconditional diffusion on ShapesWorld: diffusers' ``UNet2DModel`` trained to predict the noise.

Ho et al. (2020); slides "Introducing diffusion concept". The process (schedules, q(x_t | x_0), the
loss, one reverse step) is ``course_lib.diffusion_process``; this module is the model and its stage:
a small U-Net from Hugging Face ``diffusers``, built from a config in code (nothing from the hub),
trained with the ε-prediction loss, sampled with diffusers' DDPM or DDIM scheduler.

Where it diffuses (``DiffusionConfig.space``):

- ``"pixel"``: the picture itself, 3×32×32 in [-1, 1], as Ho et al. and GLIDE do;
- ``"latent"``: the shipped VQ-GAN's 8×8 grid of codes (notebook 06), each code written in its
  first ``latent_channels`` principal components, scaled to unit variance (``Codec`` says why); a
  sample is snapped to the nearest codes and drawn by the VQ-GAN's decoder. This is latent diffusion
  (Rombach et al. 2022, where the field went after GLIDE): a U-Net at 8×8 costs a fraction of one at
  32×32, and the decoder draws the crisp edges the VQ-GAN learnt.

Why latent by default: on the course's shared 2-core CPU, trained for the same 600 seconds, a 32×32
U-Net of 0.7 M parameters took 2.3 s per step of 32 pictures and drew no valid scene after its 262
steps; one of the same size at 8×8 took 0.65 s, reached 930 steps and drew 9.8 % valid scenes
(``benchmarks/ablation_diffusion_space.py``, ``course_lib/data/ablation_diffusion_space.json``). With
the hours a CPU has, only the latent model gets enough steps to draw shapes; the shipped one, 12,000
steps, draws valid scenes 99.5 % of the time (``course_lib/data/diffusion.json``).

The weights are averaged over training (an exponential moving average, torch's ``AveragedModel``), as
every diffusion model since Ho et al. does: the average samples cleaner pictures than the last step's
weights. The shipped and trained models hold the average.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from . import checkpoints, device_of, eval_sets, gan, metrics
from .checkpoints import Checkpointed
from .datasets import ShapesDataset, loader
from .diffusion_process import alphas_cumprod, betas, epsilon_loss, q_sample, sample_loop, scheduler
from .train import CosineSchedule, History, Preset, Training, fit, pick, seeded
from .vqvae import VQVAE, VQVAEConfig

SPACES = ("pixel", "latent")
LATENT_STATS_PICTURES = 2000  # training pictures whose codes set the latent's components and scales


@dataclasses.dataclass
class DiffusionConfig:
    """The U-Net, the noise schedule and the space it diffuses in."""

    space: str = "latent"  # "pixel" (3×32×32) or "latent" (the VQ-GAN's codes, latent_channels×8×8)
    channels: tuple[int, ...] = (64, 128)  # U-Net width at each resolution (32 or 8 px first, halved each level)
    attention: tuple[bool, ...] = (False, True)  # self-attention at each level (the middle block always has it)
    layers_per_block: int = 1  # residual blocks per level
    timesteps: int = 250  # T, the length of the noising chain
    schedule: str = "cosine"  # "linear" (Ho et al.) or "cosine" (Nichol & Dhariwal)
    # the VQ-GAN whose latent a "latent" model diffuses in (copied from its checkpoint by ``build``)
    vq_channels: int = 32
    code_dim: int = 32
    codebook_size: int = 256
    latent_channels: int = 8  # principal components of the codes the latent keeps (``Codec``)

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"unknown space {self.space!r}; choose one of: {', '.join(SPACES)}")
        if len(self.channels) != len(self.attention):
            raise ValueError(f"channels {tuple(self.channels)} and attention {tuple(self.attention)} "
                             "need one entry per level each")


@dataclasses.dataclass
class DiffusionTraining(Training):
    """How a diffusion model is trained: AdamW on a cosine schedule, weights averaged for sampling."""

    lr: float = 1e-3  # AdamW's peak rate (small U-Nets take a large one)
    batch_size: int = 64
    n_train: int = 10_000  # one-object ShapesWorld scenes (train split), as the GAN of notebook 01 sees
    ema_decay: float = 0.999  # weight of the old average at each step (0: keep the last weights)


PRESETS = {
    "tiny": Preset(DiffusionConfig(space="pixel", channels=(8, 16), attention=(False, True), timesteps=10,
                                   vq_channels=8, code_dim=8, codebook_size=16, latent_channels=4),
                   DiffusionTraining(batch_size=4, steps=2, n_train=16, ema_decay=0.9)),  # unit tests
    "smoke": Preset(DiffusionConfig(channels=(16, 32), timesteps=20),
                    DiffusionTraining(batch_size=16, steps=6, n_train=256, ema_decay=0.9)),  # CI: seconds
    "workshop": Preset(DiffusionConfig(channels=(32, 64)),
                       DiffusionTraining(lr=2e-3, batch_size=32, steps=1000, seconds=150, ema_decay=0.995)),
    # shipped (3.6 MB); on the 2-core CPU (one thread, shared) the seconds run out first
    "full": Preset(DiffusionConfig(channels=(32, 64)), DiffusionTraining(lr=1.5e-3, steps=12_000, seconds=7200)),
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


class Codec(nn.Module):
    """Between pictures (B, 3, 32, 32) in [0, 1] and what the U-Net diffuses (B, C, S, S). Frozen.

    Pixel space: x ↦ 2x - 1. Latent space: the VQ-GAN's codes (B, D, 8, 8), written in their
    ``latent_channels`` principal components, each scaled into [-1, 1] as pixels are (``fit_stats``).
    Decoding snaps every position to the code nearest in those components, then draws the picture
    with the VQ-GAN's decoder.

    Why principal components: the codes the shipped VQ-GAN uses lie close to a plane of a few
    dimensions (on 2,000 training pictures, 4 of the 32 components hold 95 % of their variance and
    the nearest code in those 4 is the code itself at every position). A U-Net asked to predict the
    noise in all 32 channels spent its capacity on 26 nearly constant ones: after 1,100 steps its
    ε-prediction error stayed at 0.15 even where x_t is almost pure noise, and every sample was a
    patchwork of wrong codes. The 8 components keep every code apart with room to spare.

    Why [-1, 1]: the first reverse steps divide the predicted noise's error by √ᾱ_t, which is near 0
    at t = T; samplers therefore clip x̂_0 to the data's range (diffusers' ``clip_sample``), and a
    latent scaled as pixels are has that range. Scaled to variance 1 instead (Rombach et al.'s
    choice for their larger models), x̂_0 went unclipped and the first steps threw every sample off."""

    def __init__(self, config: DiffusionConfig):
        super().__init__()
        self.space = config.space
        self.vq = (VQVAE(VQVAEConfig(channels=config.vq_channels, code_dim=config.code_dim,
                                     codebook_size=config.codebook_size))
                   if config.space == "latent" else None)
        k = config.latent_channels
        self.register_buffer("mean", torch.zeros(config.code_dim))  # mean code of the training pictures
        self.register_buffer("basis", torch.eye(config.code_dim, k))  # (D, k) principal directions
        self.register_buffer("scale", torch.ones(k))  # largest |value| of each component on the training codes
        self.requires_grad_(False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, S, S) of one diffused sample."""
        return (3, 32, 32) if self.space == "pixel" else (self.basis.shape[1], 8, 8)

    def components(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (..., D) -> their scaled principal components (..., k)."""
        return (codes - self.mean) @ self.basis / self.scale

    def codes(self, components: torch.Tensor) -> torch.Tensor:
        """Scaled principal components (..., k) -> the codes (..., D) they stand for on the components'
        plane (``components`` undone, up to what the dropped components held); differentiable."""
        return components * self.scale @ self.basis.T + self.mean

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        if self.space == "pixel":
            return images * 2 - 1
        codes = self.vq.quantizer.lookup(self.vq.encode(images))  # (B, D, 8, 8), the VQ-GAN's z_q
        return self.components(codes.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (B, k, 8, 8)

    @torch.no_grad()
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        if self.space == "pixel":
            return ((x + 1) / 2).clamp(0, 1)
        return self.vq.decode(self.nearest_codes(x))

    def nearest_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids (B, 8, 8) of the codes nearest to a latent sample (B, k, 8, 8), in its components."""
        from .vq import quantize

        flat = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # (B·64, k)
        return quantize(flat, self.components(self.vq.quantizer.codebook))[1].view(len(x), *x.shape[2:])

    @torch.no_grad()
    def fit_stats(self, images: torch.Tensor) -> None:
        """Set the mean code, the principal directions and their ranges from the codes of ``images``."""
        if self.space != "latent":
            return
        codes = self.vq.quantizer.lookup(self.vq.encode(images)).permute(0, 2, 3, 1).flatten(0, 2)  # (N·64, D)
        self.mean.copy_(codes.mean(0))
        _, _, directions = torch.linalg.svd(codes - self.mean, full_matrices=False)  # rows: largest variance first
        self.basis.copy_(directions[:self.basis.shape[1]].T)
        self.scale.copy_(((codes - self.mean) @ self.basis).abs().amax(0).clamp_min(1e-3))


def unet_blocks(config: DiffusionConfig, attention: str, plain: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """diffusers' down and up block names for ``config``: ``attention`` where it says so, else ``plain``."""
    down = tuple(f"{attention if a else plain}DownBlock2D" for a in config.attention)
    return down, tuple(name.replace("Down", "Up") for name in reversed(down))


def norm_groups(config: DiffusionConfig) -> int:
    """Group-norm groups that divide every width (diffusers' default 32 is too many for small U-Nets)."""
    return min(8, *config.channels)


class DiffusionModel(nn.Module):
    """What both diffusion stages hold besides their U-Net: the config, the ``Codec``, the β's of the
    noise schedule (a buffer that follows the device), and diffusers' schedulers for them."""

    def __init__(self, config: DiffusionConfig):
        super().__init__()
        self.config = config
        self.codec = Codec(config)
        self.register_buffer("betas", betas(config.schedule, config.timesteps), persistent=False)

    def scheduler(self, sampler: str = "ddim", dynamic: bool = False):
        """diffusers' scheduler ``sampler`` ("ddpm" or "ddim") for this model's schedule, x̂_0 clipped to
        [-1, 1] at every step, or with ``dynamic`` dynamically thresholded (``diffusion_process.dynamic_threshold``)."""
        return scheduler(sampler, self.config.schedule, self.config.timesteps, clip=True, dynamic=dynamic)

    def sampling_steps(self, sampler: str, steps: int) -> int:
        """Steps a sampler takes: DDPM all T, DDIM ``steps`` (at most T)."""
        return self.config.timesteps if sampler == "ddpm" else min(steps, self.config.timesteps)


class Diffusion(Checkpointed, DiffusionModel):
    """ε_θ(x_t, t): diffusers' ``UNet2DModel`` sized by a ``DiffusionConfig``, with its ``Codec``."""

    config_class = DiffusionConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: DiffusionConfig):
        super().__init__(config)
        from diffusers import UNet2DModel

        channels, size, _ = self.codec.shape
        down, up = unet_blocks(config, "Attn", "")
        self.unet = UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels,
                                block_out_channels=tuple(config.channels), layers_per_block=config.layers_per_block,
                                down_block_types=down, up_block_types=up, norm_num_groups=norm_groups(config),
                                attention_head_dim=8)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The predicted noise ε̂ (B, C, S, S) of x_t (B, C, S, S) at steps t (B,) or ()."""
        return self.unet(x_t, t).sample

    @torch.no_grad()
    def sample(self, n: int, *, sampler: str = "ddim", steps: int = 50, seed: int = 0, batch_size: int = 250,
               keep: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """n pictures (n, 3, 32, 32) in [0, 1] on the model's device, in eval mode. ``sampler`` "ddpm"
        runs all T steps whatever ``steps`` says; "ddim" runs ``steps``. The same seed gives the same
        pictures. ``keep(t, x_t)`` sees every intermediate of the first batch (``film_strip``)."""
        steps = self.sampling_steps(sampler, steps)
        was_training, generator = self.training, torch.Generator().manual_seed(seed)
        self.eval()
        pictures = []
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            x = sample_loop(self, self.scheduler(sampler), (size, *self.codec.shape), steps, generator=generator,
                            device=device_of(self), keep=keep if start == 0 else None)
            pictures.append(self.codec.decode(x))
        self.train(was_training)
        return torch.cat(pictures)


def build(config: DiffusionConfig, vqgan_checkpoint: str | Path | None = None, images: torch.Tensor | None = None) -> Diffusion:
    """A fresh model; in latent space its codec takes the VQ-GAN's weights (``vqgan_checkpoint``, the
    shipped one by default) and the latent statistics of ``images`` (default: training pictures)."""
    model = Diffusion(with_vq_sizes(config, vqgan_checkpoint))
    fill_codec(model.codec, vqgan_checkpoint, images, kind="one")
    return model


def with_vq_sizes(config, vqgan_checkpoint: str | Path | None = None):
    """``config`` (a ``DiffusionConfig`` or subclass) with the VQ-GAN's sizes, in latent space."""
    if config.space != "latent":
        return config
    sizes = checkpoints.read_config(vqgan_checkpoint or checkpoints.shipped("vqgan"))["config"]
    return dataclasses.replace(config, vq_channels=sizes["channels"], code_dim=sizes["code_dim"],
                               codebook_size=sizes["codebook_size"])


def fill_codec(codec: Codec, vqgan_checkpoint: str | Path | None, images: torch.Tensor | None = None,
               kind: str = "one") -> None:
    """In latent space: the VQ-GAN's encoder, codes and decoder into ``codec``, then the statistics of
    ``images``' codes (default: ``LATENT_STATS_PICTURES`` training pictures of ``kind``). In pixel
    space there is nothing to fill."""
    if codec.space != "latent":
        return
    if images is None:
        images = ShapesDataset(LATENT_STATS_PICTURES, kind=kind).images
    from .vqgan import VQGAN

    vqgan = checkpoints.load(vqgan_checkpoint or checkpoints.shipped("vqgan"), VQGAN, VQGAN.config_class)
    codec.vq.load_state_dict({k: v for k, v in vqgan.state_dict().items() if not k.startswith("discriminator.")})
    codec.fit_stats(images)


def film_strip(model: Diffusion, n: int = 4, *, sampler: str = "ddim", steps: int = 10, seed: int = 0,
               frames: int = 8) -> tuple[list[int], torch.Tensor]:
    """Sampling shown at work: ``frames`` decoded snapshots of x_t from near x_T to x_0 for n pictures:
    (the t of each frame, pictures (frames, n, 3, 32, 32) on the CPU)."""
    trail = []
    model.sample(n, sampler=sampler, steps=steps, seed=seed, keep=lambda t, x: trail.append((t, x.clone())))
    picks = torch.linspace(0, len(trail) - 1, min(frames, len(trail))).round().long().tolist()
    return ([trail[i][0] for i in picks],
            torch.stack([model.codec.decode(trail[i][1]).cpu() for i in picks]))


# ---------------------------------------------------------------- training

def noised(x0: torch.Tensor, timesteps: int, generator: torch.Generator, alpha_bar: torch.Tensor):
    """A training example of the ε loss: t ~ U{0..T-1} and ε ~ N(0, I) drawn on the CPU from
    ``generator``, and x_t = q_sample(x0, t, ε): (x_t, t, ε), on x0's device."""
    t = torch.randint(0, timesteps, (len(x0),), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    return q_sample(x0, t, noise, alpha_bar), t, noise


def optimizing(model: nn.Module, training: DiffusionTraining, loss_of: Callable[[object], torch.Tensor],
               average: nn.Module | None = None) -> Callable:
    """``step(batch)`` for ``train.fit``: one AdamW step on ``loss_of(batch)`` over the weights that
    learn, the learning rate on ``training``'s cosine schedule, then ``average`` (an ``AveragedModel``
    of the model, if given) updated."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=training.lr)
    schedule = CosineSchedule(optimizer, training.budget)

    def step(batch):
        loss = loss_of(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if average is not None:
            average.update_parameters(model)
        return {"loss": loss.item()}

    return step


def make_step(model: Diffusion, training: DiffusionTraining, average: nn.Module | None = None) -> Callable:
    """``step(batch)`` for ``train.fit`` on batches of (pictures, ...): encode x_0, draw t and ε from a
    generator seeded by ``training.seed``, one AdamW step on ``epsilon_loss`` (``optimizing``)."""
    generator = torch.Generator().manual_seed(training.seed)
    alpha_bar = alphas_cumprod(model.betas)

    def loss_of(batch):
        x_t, t, noise = noised(model.codec.encode(batch[0].to(device_of(model))), model.config.timesteps,
                               generator, alpha_bar)  # x_0 (B, C, S, S) noised to random steps
        return epsilon_loss(model(x_t, t), noise)

    return optimizing(model, training, loss_of, average)


def moving_average(model: nn.Module, decay: float) -> nn.Module | None:
    """torch's ``AveragedModel`` keeping an exponential moving average of the weights (None at decay 0)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) if decay else None


def training_data(training: Training) -> ShapesDataset:
    """One-object train-split scenes, as the GAN of notebook 01 learns from (``gan.training_data``)."""
    return gan.training_data(training)


def train_with(model: nn.Module, training: DiffusionTraining, make: Callable, data, *, desc: str,
               callback=None, every: int = 0, progress: bool = True) -> tuple[nn.Module, History]:
    """The loop both diffusion stages share: ``make(model, training, average)`` gives the step; at the
    end the moving average of the weights (``training.ema_decay``) is copied into the model. Callbacks
    along the way see the raw weights."""
    average = moving_average(model, training.ema_decay)
    with seeded(training.seed):
        model.train()
        history = fit(make(model, training, average), loader(data, training.batch_size, seed=training.seed),
                      training.budget, every=every, callback=callback, desc=desc, progress=progress,
                      device=device_of(model))
    if average is not None:
        model.load_state_dict(average.module.state_dict())
    return model.eval(), history


def train(model: Diffusion, training: DiffusionTraining, *, data=None, callback=None, every: int = 0,
          progress: bool = True) -> tuple[Diffusion, History]:
    """Train ``model`` (fresh, from ``build``) within ``training``'s budget, seeded by ``training.seed``;
    return it holding the averaged weights (in eval mode) and its history."""
    data = training_data(training) if data is None else data
    return train_with(model, training, make_step, data, desc="diffusion", callback=callback, every=every,
                      progress=progress)


# ---------------------------------------------------------------- measuring

def seconds_per_picture(model: Diffusion, sampler: str, steps: int, n: int = 64) -> float:
    """Wall seconds per picture of ``model.sample`` (n pictures in one batch)."""
    start = time.perf_counter()
    model.sample(n, sampler=sampler, steps=steps, seed=eval_sets.GAN_NOISE_SEED, batch_size=n)
    return (time.perf_counter() - start) / n


def evaluate(model: Diffusion, n: int = 1000, *, sampler: str = "ddim", steps: int = 50) -> dict[str, float]:
    """The GAN's oracle figures (``gan.judge``: validity, coverage) of n samples (seed
    ``eval_sets.GAN_NOISE_SEED``), their ``metrics.sharpness``, and seconds per picture."""
    start = time.perf_counter()
    pictures = model.sample(n, sampler=sampler, steps=steps, seed=eval_sets.GAN_NOISE_SEED).cpu()
    took = time.perf_counter() - start
    return gan.judge(pictures) | {"sharpness": metrics.sharpness(pictures), "seconds_per_picture": took / n}

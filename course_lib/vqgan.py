"""VQ-GAN: a VQ-VAE trained to fool a patch discriminator, for sharper pictures at the same tokens.

Esser, Rombach and Ommer 2021, "Taming Transformers for High-Resolution Image Synthesis"; slide
"Vector-Quantized Variational GAN (VQ-GAN)". The tokenizer (encoder, codebook, decoder) is the
VQ-VAE's, so ``encode`` / ``decode`` are unchanged; what changes is how the decoder is trained:

- a *patch discriminator* (PatchGAN, Isola et al. 2017) scores every 18×18-pixel patch of a picture
  real or reconstructed, on an 8×8 grid of logits, with the hinge loss of Esser et al.;
- the decoder's adversarial loss is weighted *adaptively*:
  ``lambda = ||grad_GL L_rec|| / (||grad_GL L_GAN|| + 1e-4)`` at the decoder's last layer GL, so the
  adversarial gradient never drowns the reconstruction gradient (Esser et al. 2021, eq. 7);
- a *perceptual loss* stands beside pixel MSE. Esser et al. use LPIPS on a pretrained VGG, which
  cannot be downloaded offline, so this course uses a fixed Laplacian-pyramid L1 loss (Bojanowski
  et al. 2018, "Optimizing the Latent Space of Generative Networks"): it compares the pictures' band-
  pass details (edges, corners) at 32, 16 and 8 pixels, which is what tells a circle from a diamond,
  needs no weights, and is the same on every machine.

Training starts from a trained VQ-VAE (or from scratch) and turns the discriminator on at once, the
role of Esser et al.'s ``disc_start`` being played by the VQ-VAE's own training.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import device_of
from .train import History, Preset, Training, pick
from .vq import perplexity, usage
from .vqvae import VQVAE, VQVAEConfig, evaluate, fit_tokenizer, reconstruction_loss  # noqa: F401 (evaluate: a VQ-GAN is measured as any tokenizer)


@dataclasses.dataclass
class VQGANConfig(VQVAEConfig):
    disc_channels: int = 32          # width of the discriminator's first layer


@dataclasses.dataclass
class VQGANTraining(Training):
    """A VQ-GAN's training: the tokenizer's Adam, the discriminator's, and the losses' weights."""

    lr: float = 5e-4                 # the tokenizer's Adam learning rate (a fine-tune of a VQ-VAE)
    batch_size: int = 64
    steps: int = 2000
    seconds: float | None = 540.0
    n_train: int = 20000             # mixed ShapesWorld pictures (one and two objects)
    disc_lr: float = 2e-4            # discriminator's Adam learning rate
    disc_weight: float = 0.1         # scale on the adaptive adversarial weight
    perceptual_weight: float = 1.0   # weight of the Laplacian-pyramid loss


PRESETS = {
    "tiny": Preset(VQGANConfig(channels=8, code_dim=8, codebook_size=16, disc_channels=4),
                   VQGANTraining(steps=2, seconds=None, batch_size=8, n_train=32, lr=2e-3)),  # unit tests
    "smoke": Preset(VQGANConfig(channels=16, disc_channels=8),
                    VQGANTraining(steps=10, batch_size=16, n_train=256, lr=2e-3)),  # seconds
    "workshop": Preset(VQGANConfig(), VQGANTraining(steps=300, seconds=90.0, n_train=10000)),  # a short fine-tune
    "full": Preset(VQGANConfig(), VQGANTraining()),  # the shipped tokenizer
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


class PatchDiscriminator(nn.Module):
    """(B, 3, 32, 32) -> (B, 1, 8, 8) logits, each judging one 18×18-pixel patch."""

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.net = nn.Sequential(nn.Conv2d(3, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),      # 16×16
                                 nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 8×8
                                 nn.Conv2d(2 * c, 1, 3, padding=1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2 - 1)


class VQGAN(VQVAE):
    """The VQ-VAE tokenizer plus a patch discriminator (used only in training)."""

    config_class = VQGANConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: VQGANConfig):
        super().__init__(config)
        self.discriminator = PatchDiscriminator(config.disc_channels)

    def last_layer(self) -> torch.Tensor:
        """The decoder's last weight, where the adaptive weight compares gradients."""
        return self.decoder[-1].weight


def laplacian_pyramid(images: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """Band-pass images: each level minus its blurred, down- and up-sampled self; the last level
    keeps the coarse picture. (B, C, 32, 32) -> [(B, C, 32, 32), (B, C, 16, 16), (B, C, 8, 8)]."""
    bands, x = [], images
    for _ in range(levels - 1):
        down = F.avg_pool2d(x, 2)
        bands.append(x - F.interpolate(down, scale_factor=2, mode="bilinear", align_corners=False))
        x = down
    return bands + [x]


def perceptual_loss(reconstruction: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Laplacian-pyramid L1 loss, each level weighted by 2^level (coarser levels have fewer pixels)."""
    pairs = zip(laplacian_pyramid(reconstruction), laplacian_pyramid(images))
    return sum(2 ** j * F.l1_loss(a, b) for j, (a, b) in enumerate(pairs))


def adaptive_weight(rec_loss: torch.Tensor, gan_loss: torch.Tensor, last_layer: torch.Tensor) -> torch.Tensor:
    """lambda = ||grad L_rec|| / (||grad L_GAN|| + 1e-4) at ``last_layer``, clamped to [0, 1e4],
    without gradient (Esser et al. 2021, eq. 7)."""
    rec_grad = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    gan_grad = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)[0]
    return (rec_grad.norm() / (gan_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: push real patches above +1 and reconstructed ones below -1."""
    return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())


def make_step(model: VQGAN, training: VQGANTraining, variance: float) -> Callable[[torch.Tensor], dict]:
    """One step for the tokenizer (reconstruction + perceptual + adaptive adversarial + VQ losses),
    then one for the discriminator (hinge loss on real vs reconstructed pictures)."""
    tokenizer = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("discriminator")]
    opt_g = torch.optim.Adam(tokenizer, lr=training.lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=training.disc_lr, betas=(0.5, 0.9))

    def step(images: torch.Tensor) -> dict:
        model.train()
        images = images.to(device_of(model))
        reconstruction, vq = model(images)
        rec = (reconstruction_loss(reconstruction, images, variance)
               + training.perceptual_weight * perceptual_loss(reconstruction, images))
        gan = -model.discriminator(reconstruction).mean()
        weight = training.disc_weight * adaptive_weight(rec, gan, model.last_layer())
        opt_g.zero_grad()
        (rec + weight * gan + vq.loss).backward()
        opt_g.step()

        d_loss = hinge_d_loss(model.discriminator(images), model.discriminator(reconstruction.detach()))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        k = model.config.codebook_size
        return {"reconstruction": rec.item(), "adversarial": gan.item(), "disc": d_loss.item(),
                "adaptive_weight": weight.item(), "usage": usage(vq.ids, k), "perplexity": perplexity(vq.ids, k)}

    return step


def build(config: VQGANConfig, start_from: VQVAE | None = None) -> VQGAN:
    """A VQ-GAN to train: ``start_from``'s tokenizer (a trained VQ-VAE, whose channels, code_dim,
    codebook and quantiser settings replace ``config``'s) with ``config``'s fresh discriminator, on
    ``start_from``'s device; or all fresh, on the CPU."""
    if start_from is not None:
        same = {field.name: getattr(start_from.config, field.name) for field in dataclasses.fields(VQVAEConfig)}
        config = dataclasses.replace(config, **same)
    model = VQGAN(config)  # weights drawn on the CPU, so a seed gives the same discriminator everywhere
    if start_from is not None:
        model = model.to(device_of(start_from))
        model.load_state_dict(start_from.state_dict(), strict=False)  # all but the discriminator
    return model


def train(model: VQGAN, training: VQGANTraining, *, callback=None, every: int = 0,
          progress: bool = True) -> tuple[VQGAN, History]:
    """Train ``model`` (from ``build``) within ``training``'s budget, with this module's ``make_step``
    in the tokenizers' loop (``vqvae.fit_tokenizer``); returns it (in eval mode) and its history."""
    return fit_tokenizer(model, training, make_step, callback=callback, every=every, progress=progress)


def load_tokenizer(path: str | Path | None = None) -> VQGAN:
    """The course's image tokenizer (shipped ``vqgan`` checkpoint unless ``path`` says otherwise),
    in eval mode: ``encode(images) -> (B, 8, 8) long``, ``decode(ids) -> (B, 3, 32, 32)``."""
    return VQGAN.from_checkpoint(path or "vqgan")

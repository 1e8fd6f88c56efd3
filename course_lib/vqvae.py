"""VQ-VAE: an autoencoder whose latent is a grid of tokens from a codebook.

van den Oord et al. 2017, "Neural Discrete Representation Learning"; slides "Adding the VQ layer to
the AE" and "The Codebook". A 32×32 picture goes through a convolutional encoder to an 8×8 grid of
vectors, each vector is replaced by its nearest code (``course_lib.vq``), and a decoder draws the
picture back from the codes. The picture is then *described by 64 integers*: that is what BART
translates captions into later in the course.

The API the later notebooks use:

    ids = model.encode(images)   # (B, 3, 32, 32) in [0, 1] -> (B, 8, 8) long token ids
    images = model.decode(ids)   # (B, 8, 8) long -> (B, 3, 32, 32) in [0, 1]

Reconstruction loss: mean squared error divided by the variance of the data (the paper's normalised
MSE). ShapesWorld pictures are mostly black, and plain MSE let a first probe settle on an all-black
picture; normalising by the (small) variance makes the shapes' pixels count.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


from . import datasets, device_of, eval_sets, metrics, oracle
from .checkpoints import Checkpointed
from .train import History, Preset, Training, fit, pick, seeded
from .vq import VectorQuantizer, VQOutput, perplexity, usage


@dataclasses.dataclass
class VQVAEConfig:
    channels: int = 32            # width of the 16×16 layers (the 8×8 stage has twice that)
    code_dim: int = 32            # numbers per code (D)
    codebook_size: int = 256      # codes in the codebook (K): the token vocabulary
    beta: float = 0.25            # weight of the commitment loss
    ema: bool = True              # learn the codes by moving averages (else by the codebook loss)
    restart: bool = True          # re-seed dead codes from the batch


def _training(**changes) -> Training:
    """A VQ-VAE's training: Adam at 2e-3 on batches of 64 mixed pictures (one and two objects)."""
    return Training(**{"lr": 2e-3, "batch_size": 64, "steps": 2000, "seconds": 540.0, "n_train": 20000, **changes})


PRESETS = {
    "tiny": Preset(VQVAEConfig(channels=8, code_dim=8, codebook_size=16),
                   _training(steps=2, seconds=None, batch_size=8, n_train=32)),  # unit tests
    "smoke": Preset(VQVAEConfig(channels=16), _training(steps=20, batch_size=32, n_train=512)),  # seconds, for CI
    "workshop": Preset(VQVAEConfig(), _training(steps=500, seconds=160.0, n_train=10000)),  # minutes on a laptop
    "full": Preset(VQVAEConfig(), _training()),  # shipped
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


class ResBlock(nn.Module):
    """x + conv(relu(conv(relu(x)))), the residual block of the VQ-VAE paper."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(channels, channels, 1))

    def forward(self, x):
        return x + self.body(x)


def encoder(c: int, code_dim: int) -> nn.Sequential:
    """(B, 3, 32, 32) -> (B, code_dim, 8, 8): two stride-2 convolutions and a residual block."""
    return nn.Sequential(nn.Conv2d(3, c, 4, stride=2, padding=1), nn.ReLU(),          # 16×16
                         nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),                 # 8×8
                         ResBlock(2 * c), nn.ReLU(), nn.Conv2d(2 * c, code_dim, 1))


def decoder(c: int, code_dim: int) -> nn.Sequential:
    """(B, code_dim, 8, 8) -> (B, 3, 32, 32) logits: the encoder mirrored with transposed convs."""
    return nn.Sequential(nn.Conv2d(code_dim, 2 * c, 3, padding=1),
                         ResBlock(2 * c), nn.ReLU(),
                         nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),  # 16×16
                         nn.ConvTranspose2d(c, 3, 4, stride=2, padding=1))                 # 32×32


class VQVAE(Checkpointed, nn.Module):
    """Encoder -> vector quantiser -> decoder; 32×32 pictures <-> 8×8 token grids."""

    config_class = VQVAEConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = encoder(config.channels, config.code_dim)
        self.quantizer = VectorQuantizer(config.codebook_size, config.code_dim, beta=config.beta,
                                         ema=config.ema, restart=config.restart)
        self.decoder = decoder(config.channels, config.code_dim)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, VQOutput]:
        """(B, 3, 32, 32) -> (reconstruction (B, 3, 32, 32), not yet clipped to [0, 1], the quantiser's
        output). The decoder ends linear: a sigmoid there stalled training on the black background."""
        vq = self.quantizer(self.encoder(images * 2 - 1))
        return self.decoder(vq.z_q), vq

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Pictures (B, 3, 32, 32) in [0, 1] -> token ids (B, 8, 8), dtype long."""
        was_training = self.training
        self.eval()
        ids = self.quantizer(self.encoder(images * 2 - 1)).ids
        self.train(was_training)
        return ids

    @torch.no_grad()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, 8, 8) long -> pictures (B, 3, 32, 32) in [0, 1]."""
        return self.decoder(self.quantizer.lookup(ids)).clamp(0, 1)


def reconstruction_loss(reconstruction: torch.Tensor, images: torch.Tensor, variance: float) -> torch.Tensor:
    """Normalised MSE: mean squared error / variance of the data (van den Oord et al. 2017)."""
    return F.mse_loss(reconstruction, images) / variance


def make_step(model: VQVAE, training: Training, variance: float) -> Callable[[torch.Tensor], dict]:
    """One Adam step on a batch of pictures; returns the losses and the batch's codebook figures."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=training.lr)

    def step(images: torch.Tensor) -> dict:
        model.train()
        images = images.to(device_of(model))
        reconstruction, vq = model(images)
        rec = reconstruction_loss(reconstruction, images, variance)
        opt.zero_grad()
        (rec + vq.loss).backward()
        opt.step()
        k = model.config.codebook_size
        return {"reconstruction": rec.item(), "commitment": vq.commitment_loss.item(),
                "usage": usage(vq.ids, k), "perplexity": perplexity(vq.ids, k)}

    return step


def training_images(training: Training) -> torch.Tensor:
    """The ShapesWorld pictures a preset trains on: mixed scenes (one and two objects)."""
    return datasets.ShapesDataset(training.n_train, kind="mixed", seed=training.seed).images


def train(model: VQVAE, training: Training, *, callback=None, every: int = 0,
          progress: bool = True) -> tuple[VQVAE, History]:
    """Train ``model`` (fresh: ``VQVAE(config)``) within ``training``'s budget; returns it (in eval
    mode) and its history."""
    return fit_tokenizer(model, training, make_step, callback=callback, every=every, progress=progress)


def fit_tokenizer(model: VQVAE, training: Training, make: Callable, *, callback=None, every: int = 0,
                  progress: bool = True) -> tuple[VQVAE, History]:
    """The tokenizers' loop, shared by the VQ-VAE and the VQ-GAN: ``make(model, training, variance)``
    (their ``make_step``) on batches of ``training_images``, with ``course_lib.train.fit``. Seeded by
    ``training.seed`` (the batches, and the batch entries dead codes restart from)."""
    images = training_images(training)
    batches = datasets.loader(torch.utils.data.TensorDataset(images), training.batch_size, seed=training.seed)
    with seeded(training.seed):
        step = make(model, training, float(images.var()))
        history = fit(lambda batch: step(batch[0]), batches, training.budget, every=every, callback=callback,
                      desc=type(model).__name__, progress=progress, device=device_of(model))
    return model.eval(), history


def evaluate(model, images: torch.Tensor, batch_size: int = 250) -> dict:
    """How well ``model`` (anything with encode/decode) tokenizes ``images``: oracle agreement,
    codebook usage and perplexity over all tokens, sharpness of reconstructions and of the inputs."""
    where = device_of(model)
    ids = torch.cat([model.encode(chunk.to(where)) for chunk in images.split(batch_size)])
    recon = torch.cat([model.decode(chunk).cpu() for chunk in ids.split(batch_size)])
    images = images.cpu()
    k = model.config.codebook_size
    return {"recon_agreement": oracle.agreement(images, recon), "code_usage": usage(ids, k),
            "perplexity": perplexity(ids, k), "sharpness": metrics.sharpness(recon),
            "sharpness_of_inputs": metrics.sharpness(images),
            "mse": float(F.mse_loss(recon, images))}


def test_images(n: int = 1000) -> torch.Tensor:
    """The measurement set: ``n`` mixed scenes drawn with a seed no preset trains on."""
    return datasets.ShapesDataset(n, kind="mixed", seed=eval_sets.TEST_PICTURES_SEED).images

"""Autoencoder, variational autoencoder (VAE) and conditional VAE on ShapesWorld (notebooks 03-04).

The slides' path to VQ-GAN goes AE -> VAE -> VQ-VAE. All three models here share one convolutional
encoder and decoder; only what sits between them changes:

- ``Autoencoder``: x -> z -> x̂, trained on reconstruction alone. Its latent space has gaps: points
  between the codes of training pictures decode to garbage (slides: "discontinuous, significant gaps").
- ``VAE`` (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): the encoder gives a Gaussian
  q(z|x) = N(mu, diag(sigma^2)), a sample is drawn with the reparameterisation trick
  z = mu + sigma * eps, and a KL term pulls q(z|x) towards the prior N(0, I), so the latent space is
  cohesive, can be sampled and morphs (slides: "resembles the unit norm"). ``beta`` weights the KL
  term (beta-VAE, Higgins et al. 2017).
- ``ConditionalVAE`` (Sohn et al. 2015, "Learning Structured Output Representation using Deep
  Conditional Generative Models"): encoder and decoder also see the condition y, so a caption picks
  what to draw and z only carries what the caption leaves open.

The condition is the caption's attributes, parsed exactly by ``captions.parse`` and written as one-hot
blocks (shape, colour, size, cell; a block stays zero when the caption does not say, e.g. no size).
Why not a learned caption encoder: the grammar already reads captions without error, so one-hots keep
the lesson on the conditional VAE itself; learning to read language is notebooks 02 and 07's topic.
The conditional VAE therefore draws one-object captions only.

Training details: the 8-D VAEs raise the KL weight from 0 over the first half of training (KL
warm-up, Bowman et al. 2016), so they learn to reconstruct before they meet the prior; the 2-D
models see only scenes in the middle cell (42 kinds of picture), so their latent map stays readable.

Losses are small functions so a notebook can show each in a line: ``reconstruction_loss`` (Bernoulli
log-likelihood: binary cross-entropy summed over pixels; plain MSE on these mostly black pictures can
collapse to an all-black picture), ``kl_divergence`` (closed form against N(0, I)) and
``reparameterize``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


from . import captions as _captions, device_of, eval_sets
from .datasets import loader, one_object_data
from .checkpoints import Checkpointed
from .train import Preset, Training, fit, seeded
from .shapes import COLOR_NAMES, POSITIONS, SHAPES, SIZES

# ---------------------------------------------------------------- configs and presets


@dataclasses.dataclass
class AEConfig:
    """An autoencoder's sizes."""

    latent_dim: int = 8  # size of z; 2 lets the latent space be drawn as a map
    width: int = 16  # channels of the first conv layer; each further layer doubles them
    hidden: int = 128  # units of the fully connected layer between conv features and z
    resolution: int = 32  # picture size (32 or 64)


@dataclasses.dataclass
class VAEConfig(AEConfig):
    """A (conditional) VAE: an autoencoder's sizes plus the weight of the KL term in its loss."""

    beta: float = 1.0  # loss = reconstruction + beta * KL; beta > 1 is the beta-VAE


@dataclasses.dataclass
class AETraining(Training):
    """How the autoencoders are trained: Adam on one-object scenes."""

    steps: int = 2400
    batch_size: int = 64
    lr: float = 2e-3  # Adam learning rate
    n_train: int = 6000  # one-object training scenes
    middle_only: bool = False  # only scenes in the middle cell: 42 kinds of picture, a readable 2-D map
    kl_warmup: int = 0  # a VAE's KL weight rises from 0 to beta over this many steps (Bowman et al. 2016)


_BUDGETS = {  # mode -> (steps, seconds, n_train) of the 8-D models; "full" makes the shipped checkpoints
    "tiny": (2, None, 64),
    "smoke": (8, 5.0, 512),
    "workshop": (3000, 50.0, 6000),
    "full": (3000, None, 12000),
}
_STAGES = {  # name -> (model class name, share of the mode's budget, latent_dim, the 2-D map's middle cell only)
    "ae2d": ("Autoencoder", 1.0, 2, True),
    "vae2d": ("VAE", 1.0, 2, True),
    "ae": ("Autoencoder", 2.0, 8, False),
    "cvae": ("ConditionalVAE", 1.0, 4, False),
    "vae": ("VAE", 3.0, 4, False),
}
STAGE_NAMES = tuple(_STAGES)


def preset(name: str, mode: str = "workshop") -> Preset:
    """Stage ``name``'s (ae, ae2d, vae, vae2d, cvae) preset in ``mode`` (tiny, smoke, workshop, full):
    ``config, training = preset("vae", mode)``."""
    if name not in _STAGES:
        raise ValueError(f"unknown stage {name!r}; choose one of: {', '.join(STAGE_NAMES)}")
    if mode not in _BUDGETS:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(_BUDGETS)}")
    model_name, share, latent_dim, middle_only = _STAGES[name]
    steps, seconds, n_train = _BUDGETS[mode]
    small = mode in ("tiny", "smoke")
    config_cls = AEConfig if model_name == "Autoencoder" else VAEConfig
    config = config_cls(latent_dim=latent_dim, **({"width": 8, "hidden": 32} if small else {}))
    steps = max(1, int(steps * share))
    # the 8-D VAEs learn to reconstruct first, then meet the prior; the 2-D map is shaped by the KL from the start
    warmup = steps // 2 if config_cls is VAEConfig and latent_dim > 2 else 0
    if middle_only and not small:
        n_train = 3000  # 42 kinds of picture need fewer examples
    return Preset(config, AETraining(steps=steps, seconds=seconds and seconds * share, n_train=n_train,
                                     middle_only=middle_only, kl_warmup=warmup, **({"batch_size": 32} if small else {})))


# ---------------------------------------------------------------- the key ideas, one function each


def reconstruction_loss(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) for Bernoulli pixels: BCE summed over the pixels of a picture, mean over pictures."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1).mean()


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample of N(mu, sigma^2) that gradients flow through
    (Kingma & Welling 2014, section 2.4). mu, logvar: (B, D) -> z: (B, D). A seeded ``generator``
    draws eps where it lives (the CPU: the same numbers on every machine), then eps joins mu."""
    where = generator.device if generator is not None else mu.device
    eps = torch.randn(mu.shape, generator=generator, device=where, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) in closed form (Kingma & Welling 2014, appendix B), summed over
    the latent dimensions, mean over the batch: -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2)."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


# ---------------------------------------------------------------- conditions from captions

ATTRIBUTES = (("shape", SHAPES), ("color", COLOR_NAMES), ("size", SIZES), ("cell", tuple(range(len(POSITIONS)))))
ATTRIBUTE_DIM = sum(len(values) for _, values in ATTRIBUTES)  # 4 + 6 + 2 + 9 = 21


def attributes(prompts: Sequence[str]) -> torch.Tensor:
    """One-object captions -> (B, 21) one-hot blocks (shape, colour, size, cell); an attribute the caption
    does not name leaves its block at zero."""
    rows = []
    for prompt in prompts:
        spec = _captions.parse(prompt)
        if len(spec.objects) != 1:
            raise _captions.CaptionError(f"the conditional VAE draws one-object captions; {prompt!r} names two shapes")
        obj = spec.objects[0]
        row = []
        for field, values in ATTRIBUTES:
            block = [0.0] * len(values)
            value = getattr(obj, field)
            if value is not None:
                block[values.index(value)] = 1.0
            row += block
        rows.append(row)
    return torch.tensor(rows).reshape(len(rows), ATTRIBUTE_DIM)


# ---------------------------------------------------------------- encoder and decoder


def _conv_layers(resolution: int) -> int:
    if resolution not in (32, 64):
        raise ValueError(f"resolution must be 32 or 64, got {resolution}")
    return int(math.log2(resolution // 4))  # stride-2 convolutions down to 4×4


class Encoder(nn.Module):
    """(B, 3, H, W) [+ condition (B, C)] -> (B, out_dim): stride-2 convolutions, then two linear layers."""

    def __init__(self, config: AEConfig, out_dim: int, condition_dim: int = 0):
        super().__init__()
        layers, channels = [], 3
        for i in range(_conv_layers(config.resolution)):
            layers += [nn.Conv2d(channels, config.width * 2 ** i, 4, 2, 1), nn.ReLU()]
            channels = config.width * 2 ** i
        self.conv = nn.Sequential(*layers, nn.Flatten())  # (B, 3, H, W) -> (B, channels * 4 * 4)
        self.head = nn.Sequential(nn.Linear(channels * 16 + condition_dim, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, out_dim))

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        features = self.conv(images)
        if condition is not None:
            features = torch.cat([features, condition], 1)
        return self.head(features)


class Decoder(nn.Module):
    """(B, in_dim) -> (B, 3, H, W) logits: two linear layers to a 4×4 map, then transposed convolutions."""

    def __init__(self, config: AEConfig, in_dim: int):
        super().__init__()
        n = _conv_layers(config.resolution)
        self.channels = config.width * 2 ** (n - 1)
        self.head = nn.Sequential(nn.Linear(in_dim, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, self.channels * 16), nn.ReLU())
        layers = []
        for i in reversed(range(n)):
            out = 3 if i == 0 else config.width * 2 ** (i - 1)
            layers.append(nn.ConvTranspose2d(config.width * 2 ** i, out, 4, 2, 1))
            if i:
                layers.append(nn.ReLU())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.head(z).view(len(z), self.channels, 4, 4))


# ---------------------------------------------------------------- the three models


class Autoencoder(Checkpointed, nn.Module):
    """x -> z = e(x) -> x̂ = d(z); loss = ||x - d(e(x))|| as on the slide, here as Bernoulli BCE."""

    config_class = AEConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: AEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config, config.latent_dim)
        self.decoder = Decoder(config, config.latent_dim)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> z (B, D)."""
        return self.encoder(images)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D) -> pictures (B, 3, H, W) in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def losses(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        rec = reconstruction_loss(self.decoder(self.encode(images)), images)
        return {"loss": rec, "reconstruction": rec}

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Pictures (B, 3, H, W), wherever they are -> their reconstructions, where the model is."""
        return self.decode(self.encode(images.to(device_of(self))))


class VAE(Checkpointed, nn.Module):
    """Encoder -> (mu, log sigma^2); z = reparameterize(mu, logvar); loss = reconstruction + beta * KL."""

    config_class = VAEConfig  # what ``from_checkpoint`` rebuilds it from

    condition_dim = 0  # size of the condition y; 0 for the unconditional VAE

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config, 2 * config.latent_dim, self.condition_dim)  # -> (mu, logvar)
        self.decoder = Decoder(config, config.latent_dim + self.condition_dim)

    def encode(self, images: torch.Tensor, condition: torch.Tensor | None = None):
        """(B, 3, H, W) -> mu, logvar, each (B, D)."""
        mu, logvar = self.encoder(images, condition).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D) -> pictures (B, 3, H, W) in [0, 1]."""
        if condition is not None:
            z = torch.cat([z, condition], 1)
        return torch.sigmoid(self.decoder(z))

    def losses(self, images: torch.Tensor, condition: torch.Tensor | None = None,
               generator: torch.Generator | None = None, beta: float | None = None) -> dict[str, torch.Tensor]:
        """The losses of one batch; ``beta`` overrides the config's (e.g. during the KL warm-up)."""
        mu, logvar = self.encode(images, condition)
        z = reparameterize(mu, logvar, generator)
        decoder_input = z if condition is None else torch.cat([z, condition], 1)
        rec = reconstruction_loss(self.decoder(decoder_input), images)
        kl = kl_divergence(mu, logvar)
        beta = self.config.beta if beta is None else beta
        return {"loss": rec + beta * kl, "reconstruction": rec, "kl": kl}

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the mean of q(z|x): the model's best guess of the picture (input wherever it is,
        output where the model is)."""
        device = device_of(self)
        condition = None if condition is None else condition.to(device)
        return self.decode(self.encode(images.to(device), condition)[0], condition)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I): (n, 3, H, W)."""
        device = device_of(self)
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)
        return self.decode(z, condition)


class ConditionalVAE(VAE):
    """A VAE whose encoder q(z|x, y) and decoder p(x|z, y) also see the caption's attributes y
    (Sohn et al. 2015), with the prior kept at N(0, I)."""

    condition_dim = ATTRIBUTE_DIM

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], generator: torch.Generator | None = None) -> torch.Tensor:
        """One picture per one-object caption: decode a prior draw z with the caption's attributes."""
        device = device_of(self)
        return self.sample(len(prompts), generator, attributes(prompts).to(device))


MODELS = {cls.__name__: cls for cls in (Autoencoder, VAE, ConditionalVAE)}


def build(name: str, config: AEConfig) -> nn.Module:
    """A fresh model of stage ``name`` (ae, ae2d, vae, vae2d, cvae) with ``config`` (from ``preset``)."""
    return MODELS[_STAGES[name][0]](config)


# ---------------------------------------------------------------- training and measuring


def make_step(model: nn.Module, training: AETraining) -> Callable:
    """The training step for ``train.fit``: a batch of (pictures, captions) -> one Adam step -> losses.
    A VAE's KL weight warms up over ``training.kl_warmup`` steps; its eps is drawn seeded."""
    device = device_of(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.lr)
    noise = torch.Generator().manual_seed(training.seed)  # the VAE's eps, on the CPU: same seed, same run anywhere
    done = 0

    def step(batch) -> dict[str, float]:
        nonlocal done
        images, prompts = batch
        images = images.to(device)
        if isinstance(model, VAE):
            condition = attributes(prompts).to(device) if isinstance(model, ConditionalVAE) else None
            warmup = training.kl_warmup
            beta = model.config.beta * min(1.0, done / warmup) if warmup else None
            losses = model.losses(images, condition, noise, beta)
        else:
            losses = model.losses(images)
        done += 1
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        return {k: v.item() for k, v in losses.items()}

    return step


def training_data(training: AETraining, resolution: int = 32):
    """One-object train-split scenes (middle cell only for the 2-D maps), at ``resolution`` pixels."""
    return one_object_data(training.n_train, seed=training.seed, middle_only=training.middle_only,
                           resolution=resolution)


def train(model: nn.Module, training: AETraining, data=None, *, callback=None, every: int = 0,
          progress: bool = True):
    """Train ``model`` (fresh from ``build``) on one-object ShapesWorld scenes within ``training``'s
    budget, seeded by ``training.seed``; returns it (in eval mode) and its History."""
    data = data if data is not None else training_data(training, model.config.resolution)
    model.train()
    with seeded(training.seed):
        history = fit(make_step(model, training), loader(data, training.batch_size, seed=training.seed),
                      training.budget, every=every, callback=callback, desc=type(model).__name__,
                      progress=progress, device=device_of(model))
    return model.eval(), history


@torch.no_grad()
def latent_grid(model: nn.Module, points: torch.Tensor, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """An n×n grid over the box that holds ``points`` (N, 2) in a 2-D latent space, and its decodes:
    grid (n*n, 2) row by row from the top, pictures (n*n, 3, H, W)."""
    lo, hi = points.min(0).values, points.max(0).values
    xs = torch.linspace(float(lo[0]), float(hi[0]), n)
    ys = torch.linspace(float(hi[1]), float(lo[1]), n)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1).reshape(-1, 2)  # (n*n, 2) as (x, y)
    return grid, model.decode(grid.to(device_of(model))).cpu()


def latent_box(points: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points drawn uniformly from the box that holds ``points`` (N, D): the D-dimensional
    version of the grid over a 2-D map, for latent spaces too big to draw. -> (n, D)"""
    lo, hi = points.min(0).values, points.max(0).values
    return lo + (hi - lo) * torch.rand(n, points.shape[1], generator=generator).to(points.device)


@torch.no_grad()
def encode_mean(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Where pictures land in latent space: z for the AE, mu for the VAE. (B, 3, H, W), wherever they
    are -> (B, D), where the model is."""
    out = model.encode(images.to(device_of(model)))
    return out[0] if isinstance(out, tuple) else out


def evaluate(model: nn.Module, n: int = 500, middle_only: bool = False) -> dict[str, float]:
    """The oracle's figures on ``n`` unseen one-object pictures of training combinations (in the middle
    cell only, for a model trained there): the conditional VAE's ``caption_acc_seen``; else
    ``recon_agreement``, the VAE's ``prior_validity``, and the validity of decodes over the latent box
    (``box_validity``) or, in 2-D, the grid (``grid_validity``)."""
    from . import oracle

    model.eval()
    data = one_object_data(n, seed=eval_sets.AUTOENCODER_SEED + 1000, middle_only=middle_only,
                           resolution=model.config.resolution)
    generator = torch.Generator().manual_seed(eval_sets.AUTOENCODER_SEED)
    if isinstance(model, ConditionalVAE):
        prompts = [_captions.describe(s) for s in data.scenes]
        return {"caption_acc_seen": oracle.caption_accuracy(model.generate(prompts, generator).cpu(), prompts)}
    images = data.images.to(device_of(model))  # (n, 3, H, W) where the model is
    figures = {"recon_agreement": oracle.agreement(data.images, model.reconstruct(images).cpu())}
    if isinstance(model, VAE):
        figures["prior_validity"] = oracle.validity(model.sample(n, generator).cpu())
    codes = encode_mean(model, images)
    if model.config.latent_dim == 2:
        figures["grid_validity"] = oracle.validity(latent_grid(model, codes)[1])
    else:
        figures["box_validity"] = oracle.validity(model.decode(latent_box(codes, n, generator)).cpu())
    return figures

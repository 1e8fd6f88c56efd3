"""A DCGAN-style generative adversarial network for 32×32 ShapesWorld pictures.

Goodfellow et al. (2014) set two networks against each other (slides, "Vanilla GAN for image
generation (2014)"): a generator G turns noise z into a picture, a discriminator D scores pictures as
real or fake. They play the minimax game

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].

D takes a step up this objective (``discriminator_loss``: binary cross-entropy with real → 1,
fake → 0); G takes a step with the *non-saturating* loss ``-log D(G(z))`` (``generator_loss``),
which the paper recommends because ``log(1 - D(G(z)))`` has vanishing gradients early on, when D
rejects every fake with confidence. ``train_step`` is exactly these two steps, short enough to read
next to the equation (notebook 01 writes it out again and checks it against this one).

The networks follow DCGAN (Radford et al., 2016): strided (transposed) convolutions, batch norm,
ReLU in G and LeakyReLU in D, a tanh output. Pictures go in and out in [0, 1] as everywhere in the
course; G maps its tanh output there and D maps [0, 1] back to [-1, 1] first.
``Generator`` and ``Discriminator`` take an optional condition, which ``course_lib.text_gan`` uses.

Two stabilisers keep this small game from collapsing onto a few pictures (notebook 01, "Mode
collapse"; figures for all three changes in benchmarks/results/gan_experiments.md):

- **Packing** (PacGAN, Lin et al. 2018): D judges ``pack`` pictures at once, stacked along the
  channels. A G that draws the same picture twice makes packs no real pack looks like, so D can
  punish the lack of variety that a one-picture D cannot see.
- **Instance noise** (Sønderby et al. 2017; Arjovsky & Bottou 2017): every picture D sees, real or
  fake, gets Gaussian noise that fades to zero over training (``InstanceNoise``). Early on it hides
  the fine details G cannot draw yet, so D cannot win on those alone and must judge the shapes.

Even then a third of the samples came out blank and a quarter as blobs, for a reason no loss can
fix: one-object ShapesWorld is 378 separate pictures, z ~ N(0, I) is one connected cloud, and a
continuous G maps a connected cloud onto a connected set, so between any two pictures it draws must
lie z's that it turns into something in between (Khayatkhoei et al. 2018, "Disconnected manifold
learning for generative adversarial networks"). Hence a third change, to what G *gets*:

- **Latent islands**: with ``islands`` = K, z is drawn near one of K fixed points (``GAN.noise``), a
  mixture of K narrow Gaussians as in DeLiGAN (Gurumurthy et al. 2017, who also learn the centres;
  ours stay where N(0, I) put them). The cloud falls apart into K islands with empty sea between
  them, so G can give each island its own picture and no sample lands on the in-betweens.
- **Island restarts** (``IslandRestarts``): about a third of the islands stayed blank for thousands
  of steps, and G learns a blank island only slowly. Every few hundred rounds each island whose
  picture is blank moves next to a random live island (that centre + N(0, I)), where G already
  draws something and soon draws something of its own: the cure notebook 05's VQ-VAE applies to its
  dead codes (``course_lib.vq``), applied to z.

Two standard stabilisers a learner meets elsewhere are switches here too, measured against this recipe
in notebook 01 (``course_lib.gan_stabilisers``): spectral normalisation of D (``GANConfig.d_norm``)
and the Wasserstein loss with a gradient penalty (``GANTraining.loss = "wgan-gp"``).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


from . import device_of, eval_sets, gan_stabilisers, oracle
from .checkpoints import Checkpointed
from .datasets import ShapesDataset, loader
from .shapes import all_one_object_scenes
from .train import Budget, BudgetClock, History, Preset, Training, fit, pick, seeded

BASE_SIZE = 4  # G starts and D ends at 4×4 feature maps; three ×2 steps reach 32×32


@dataclasses.dataclass
class GANConfig:
    """Sizes of the two networks and of the noise they play with."""

    z_dim: int = 64  # length of the noise vector z
    width: int = 16  # channels of D's first / G's last feature map; doubled at each ×2 step
    pack: int = 1  # PacGAN: D judges this many pictures at once (1 = the plain DCGAN discriminator)
    islands: int = 0  # > 0: z lies near one of this many fixed points of N(0, I) (``GAN.noise``); 0: all of N(0, I)
    island_radius: float = 0.1  # std of z around its island's centre
    d_norm: str = "batch"  # D's normalisation: "batch" (DCGAN), "spectral" (Miyato et al. 2018) or "none"


@dataclasses.dataclass
class GANTraining(Training):
    """How a GAN is trained: DCGAN's Adam, and the two tricks that keep the game going."""

    lr: float = 2e-4  # Adam learning rate of both networks (DCGAN's value)
    beta1: float = 0.5  # Adam's first-moment decay (DCGAN: 0.5 rather than 0.9 steadies the game)
    batch_size: int = 32  # pictures per step
    steps: int = 1500  # optimiser steps (one D step and one G step each)
    n_train: int = 10_000  # one-object ShapesWorld scenes (train split) to learn from
    instance_noise: float = 0.0  # starting std of the noise on D's inputs, fading to 0 (``InstanceNoise``)
    restart_every: int = 0  # > 0 with islands: every this many rounds, move blank islands next to live ones
    restart_offset: float = 1.0  # std of a moved island's distance from the live island it joins
    loss: str = "bce"  # the game: "bce" (Goodfellow et al.'s, non-saturating G) or "wgan-gp" (Gulrajani et al. 2017)
    gp_weight: float = 10.0  # λ of WGAN-GP's gradient penalty


_TRICKS = dict(instance_noise=0.3)  # every preset's D sees fading noise
PRESETS = {
    "tiny": Preset(GANConfig(z_dim=8, width=4, pack=2), GANTraining(batch_size=4, steps=2, n_train=16, **_TRICKS)),  # tests
    "smoke": Preset(GANConfig(width=8, pack=2, islands=512),
                    GANTraining(batch_size=16, steps=8, n_train=256, restart_every=4, **_TRICKS)),  # CI
    "workshop": Preset(GANConfig(width=16, pack=2, islands=512),
                       GANTraining(batch_size=32, steps=4000, seconds=150, restart_every=500, **_TRICKS)),  # laptop
    "full": Preset(GANConfig(width=32, pack=2, islands=512),
                   GANTraining(batch_size=64, steps=8000, seconds=2400, restart_every=500, **_TRICKS)),  # shipped
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


class Generator(nn.Module):
    """z (B, in_dim) -> picture (B, 3, 32, 32) in [0, 1]. ``in_dim`` = z_dim (+ condition size)."""

    def __init__(self, in_dim: int, width: int):
        super().__init__()
        top = 4 * width
        self.project = nn.Sequential(  # (B, in_dim) -> (B, 4w·4·4), reshaped to (B, 4w, 4, 4)
            nn.Linear(in_dim, top * BASE_SIZE * BASE_SIZE, bias=False),
            nn.BatchNorm1d(top * BASE_SIZE * BASE_SIZE), nn.ReLU())
        self.top = top
        self.upsample = nn.Sequential(
            _up(top, 2 * width),  # (B, 4w, 4, 4) -> (B, 2w, 8, 8)
            _up(2 * width, width),  # -> (B, w, 16, 16)
            nn.ConvTranspose2d(width, 3, 4, 2, 1), nn.Tanh())  # -> (B, 3, 32, 32) in [-1, 1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.top, BASE_SIZE, BASE_SIZE)
        return (self.upsample(h) + 1) / 2  # [-1, 1] -> [0, 1]


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def _down(c_in: int, c_out: int, norm: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


class Discriminator(nn.Module):
    """Pictures (B, 3, 32, 32) in [0, 1] -> one logit per pack of ``pack`` pictures (B / pack,):
    high means "real". With the default ``pack=1`` that is one logit per picture.

    With ``cond_dim`` > 0 it also takes a condition vector (B, cond_dim), replicated over the 4×4
    feature map and depth-concatenated with it, then a 1×1 convolution and ReLU, as in Reed et al.
    (2016, section 4.1); without, the 4×4 features go straight to the final 4×4 convolution.
    ``noise_std``: instance noise added to the pictures in training mode (set by ``InstanceNoise``).
    """

    def __init__(self, width: int, cond_dim: int = 0, pack: int = 1):
        super().__init__()
        if cond_dim and pack > 1:
            raise ValueError("a conditional discriminator judges one (picture, condition) pair at a time: use pack=1")
        top = 4 * width
        self.pack, self.noise_std = pack, 0.0
        self.features = nn.Sequential(
            _down(3 * pack, width, norm=False),  # (B/pack, 3·pack, 32, 32) -> (·, w, 16, 16); no norm here
            _down(width, 2 * width),  # -> (B, 2w, 8, 8)
            _down(2 * width, top))  # -> (B, 4w, 4, 4)
        self.cond_dim = cond_dim
        self.fuse = (nn.Sequential(nn.Conv2d(top + cond_dim, top, 1), nn.LeakyReLU(0.2))
                     if cond_dim else nn.Identity())
        self.score = nn.Conv2d(top, 1, BASE_SIZE)  # (B, 4w, 4, 4) -> (B, 1, 1, 1)

    def forward(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.training and self.noise_std:
            images = images + self.noise_std * torch.randn_like(images)
        if len(images) % self.pack:
            raise ValueError(f"the discriminator judges packs of {self.pack} pictures; "
                             f"give it a multiple of {self.pack}, not {len(images)}")
        packs = images.reshape(len(images) // self.pack, 3 * self.pack, *images.shape[2:])  # (B/pack, 3·pack, H, W)
        h = self.features(packs * 2 - 1)  # (B/pack, 4w, 4, 4)
        if self.cond_dim:
            tiled = cond[:, :, None, None].expand(-1, -1, BASE_SIZE, BASE_SIZE)  # (B, cond, 4, 4)
            h = self.fuse(torch.cat([h, tiled], 1))  # depth concatenation -> (B, 4w, 4, 4)
        return self.score(h).flatten()  # (B / pack,)


def init_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights from N(0, 0.02), batch-norm scales from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class GAN(Checkpointed, nn.Module):
    """The generator and the discriminator of one game, built from a ``GANConfig``."""

    config_class = GANConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config.z_dim, config.width)
        self.discriminator = Discriminator(config.width, pack=config.pack)
        init_weights(self)
        gan_stabilisers.set_norm(self.discriminator, config.d_norm)  # after init: spectral norm wraps the weights
        if config.islands:
            self.register_buffer("island_centres", torch.randn(config.islands, config.z_dim))

    def noise(self, n: int, seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """z: (n, z_dim) on the CPU, repeatable with ``seed`` (or drawn from ``generator``).

        Without islands z ~ N(0, I). With ``config.islands`` = K, z = centre_k + radius · ε: k uniform
        over K fixed centres (drawn once from N(0, I)), ε ~ N(0, I)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else generator
        eps = torch.randn(n, self.config.z_dim, generator=gen)
        if not self.config.islands:
            return eps
        which = torch.randint(self.config.islands, (n,), generator=gen)
        return self.island_centres.cpu()[which] + self.config.island_radius * eps

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = 0, z: torch.Tensor | None = None) -> torch.Tensor:
        """n pictures (n, 3, 32, 32) in [0, 1] from noise (given, or drawn with ``seed``), in eval mode."""
        was_training = self.training
        self.eval()
        z = (self.noise(n, seed) if z is None else z).to(device_of(self))
        images = torch.cat([self.generator(chunk) for chunk in z.split(500)])
        self.train(was_training)
        return images


# ---------------------------------------------------------------- the minimax game

class InstanceNoise:
    """Sets D's instance noise over training: ``sigma`` at the start, falling linearly to 0 when
    ``until`` of the budget (steps or seconds, whichever runs out first) is spent. Call ``step()``
    after each round of the game. The last stretch of training is noise-free, so G's final pictures
    are judged as they are."""

    def __init__(self, discriminator: Discriminator, sigma: float, budget: Budget, until: float = 0.8):
        self.discriminator, self.sigma, self.until = discriminator, sigma, until
        self.clock = BudgetClock(budget)
        self._apply()

    def step(self) -> None:
        self.clock.tick()
        self._apply()

    def _apply(self) -> None:
        self.discriminator.noise_std = self.sigma * max(0.0, 1 - self.clock.progress() / self.until)


def blank_islands(model: GAN, below: float = 0.3) -> torch.Tensor:
    """(K,) bool: the islands whose centre G draws as a blank picture (brightest pixel under ``below``;
    ShapesWorld's background is black and every colour of its palette has a channel at 0.75 or more)."""
    return model.sample(len(model.island_centres), z=model.island_centres).amax((1, 2, 3)) < below


class IslandRestarts:
    """Moves blank islands next to live ones, every ``training.restart_every`` rounds until ``until`` of
    the budget is spent (steps or seconds, whichever runs out first). Call ``step()`` after each round.

    A blank island (``blank_islands``: judged by G's own picture, no oracle) gets a random live
    island's centre plus ``training.restart_offset`` · N(0, I): near enough that G already draws
    something there, far enough that it can learn a picture of its own. ``moved`` counts the restarts.
    The last quarter of training moves nothing, so G settles on the final islands; they travel with
    the checkpoint."""

    def __init__(self, model: GAN, training: GANTraining, until: float = 0.75):
        self.model, self.training, self.until = model, training, until
        self.clock = BudgetClock(training.budget)
        self.generator = torch.Generator().manual_seed(training.seed + 1)  # apart from the training noise's
        self.moved = 0

    def step(self) -> None:
        self.clock.tick()
        every = self.training.restart_every
        if (self.model.config.islands and every and self.clock.done % every == 0
                and self.clock.progress() < self.until):
            self.moved += self.restart()

    @torch.no_grad()
    def restart(self) -> int:
        """Move every blank island next to a random live one now; return how many moved."""
        centres = self.model.island_centres  # (K, z_dim)
        blank = blank_islands(self.model)  # (K,)
        live = (~blank).nonzero().flatten()
        n = int(blank.sum())
        if n == 0 or len(live) == 0:
            return 0
        donors = live[torch.randint(len(live), (n,), generator=self.generator)]
        jump = self.training.restart_offset * torch.randn(n, centres.shape[1], generator=self.generator)
        centres[blank] = centres[donors] + jump.to(centres.device)
        return n


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss, -[log D(x) + log(1 - D(G(z)))]: binary cross-entropy with real → 1, fake → 0."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's non-saturating loss, -log D(G(z)): cross-entropy of fakes labelled "real"."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def optimizers(model: nn.Module, training) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for G and for D, with DCGAN's settings (``training.lr``, ``training.beta1``)."""
    betas = (training.beta1, 0.999)
    g_params = [p for n, p in model.named_parameters() if not n.startswith("discriminator.")]
    return (torch.optim.Adam(g_params, lr=training.lr, betas=betas),
            torch.optim.Adam(model.discriminator.parameters(), lr=training.lr, betas=betas))


def train_step(model: GAN, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor) -> dict[str, float]:
    """One round of the game on real pictures (B, 3, 32, 32) and noise z (B, z_dim)."""
    G, D = model.generator, model.discriminator
    fake = G(z)  # (B, 3, 32, 32)
    # D's move: push D(real) up and D(fake) down; fake.detach() keeps G out of this step
    d_loss = discriminator_loss(D(real), D(fake.detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    # G's move: make D call the fakes real
    g_loss = generator_loss(D(fake))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"D": d_loss.item(), "G": g_loss.item()}


def game(model: GAN, training: GANTraining) -> Callable[..., dict[str, float]]:
    """The round ``training.loss`` names: ``train_step`` or ``gan_stabilisers.wgan_gp_step``."""
    if training.loss == "bce":
        return train_step
    if training.loss != "wgan-gp":
        raise ValueError(f"unknown GAN loss {training.loss!r}; choose 'bce' or 'wgan-gp'")
    if model.config.d_norm == "batch":
        raise ValueError("WGAN-GP penalises each picture's own gradient, and batch norm mixes the pictures "
                         "of a batch (Gulrajani et al. 2017, section 4): use d_norm='none' or 'spectral'")
    return functools.partial(gan_stabilisers.wgan_gp_step, weight=training.gp_weight)


def make_step(model: GAN, training: GANTraining) -> Callable[[tuple], dict[str, float]]:
    """``step(batch)`` for ``train.fit``: draws seeded noise, plays one round of the game
    (``training.loss``), lowers D's instance noise and restarts blank islands."""
    play = game(model, training)
    opt_g, opt_d = optimizers(model, training)
    noise = torch.Generator().manual_seed(training.seed)
    instance_noise = InstanceNoise(model.discriminator, training.instance_noise, training.budget)
    restarts = IslandRestarts(model, training)

    def step(batch):
        real = batch[0].to(device_of(model))
        z = model.noise(len(real), generator=noise).to(real.device)
        losses = play(model, opt_g, opt_d, real, z)
        instance_noise.step()
        restarts.step()
        return losses

    return step


def training_data(training: Training) -> ShapesDataset:
    """One-object train-split scenes: every sample then has a known (shape, colour, cell) to count."""
    return ShapesDataset(training.n_train, split="train", kind="one", seed=training.seed)


def train(model: GAN, training: GANTraining, *, data=None, callback=None, every: int = 0,
          progress: bool = True) -> tuple[GAN, History]:
    """Train ``model`` (fresh: ``GAN(config)``) within ``training``'s budget, seeded by
    ``training.seed``; return it (in eval mode) and its history."""
    data = training_data(training) if data is None else data
    with seeded(training.seed):  # the instance noise on D's inputs draws from torch's generator
        history = fit(make_step(model.train(), training), loader(data, training.batch_size, seed=training.seed),
                      training.budget, every=every, callback=callback, desc="GAN", progress=progress,
                      device=device_of(model))
    return model.eval(), history


# ---------------------------------------------------------------- measuring

def coverage_universe() -> list[tuple[str, str, int]]:
    """Every (shape, colour, cell) of the train split's one-object scenes (21 pairs × 9 cells = 189)."""
    return sorted({(o.shape, o.color, o.cell) for s in all_one_object_scenes("train") for o in s.objects})


def judge(images: torch.Tensor) -> dict[str, float]:
    """Oracle figures of unconditional samples: validity (share read as a clean one-object scene, the
    only kind G was shown: two clean shapes in one picture are an in-between of two training pictures,
    not one of them) and coverage (share of the train split's (shape, colour, cell) combinations that
    some valid sample shows)."""
    readings = oracle.read(images)
    scenes = [r.scene if r.scene is not None and len(r.scene.objects) == 1 else None for r in readings]
    return {"validity": sum(s is not None for s in scenes) / max(len(scenes), 1),
            "coverage": oracle.coverage(scenes, lambda o: (o.shape, o.color, o.cell), coverage_universe())}


def evaluate(model: GAN, n: int = 1000) -> dict[str, float]:
    """``judge`` on ``n`` samples of fixed noise (``eval_sets.GAN_NOISE_SEED``): validity and coverage."""
    return judge(model.sample(n, z=model.noise(n, seed=eval_sets.GAN_NOISE_SEED)).cpu())

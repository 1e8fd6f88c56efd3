"""A text-conditional GAN with a matching-aware discriminator: GAN-CLS (Reed et al., 2016).

Slides, "GAN generating image conditioned on Text (2016)": instead of drawing from noise alone, the
generator draws from noise *and* a text encoding φ(t). φ(t) is used by both networks: "projected to
a lower dimension and depth concatenated with image feature maps". In G the projection joins z at
the 1×1 input; in D it is replicated over the 4×4 feature map and depth-concatenated there
(``gan.Discriminator`` with ``cond_dim``).

A plain conditional D only asks "is this picture real?", so it cannot tell G that a real-looking
picture shows the wrong thing. The matching-aware D of GAN-CLS is trained on three pairs
(``train_step``, ``discriminator_loss``; the wrong pictures come from ``mismatched``):

1. (real image, right caption) → 1
2. (wrong image, right caption) → 0   (a real picture of another scene: the mismatch is what is fake)
3. (fake image, right caption) → 0

with Reed et al.'s weights, L_D = -[log s_r + (log(1 - s_w) + log(1 - s_f)) / 2]. G keeps the
non-saturating loss -log s_f. ``TextGANTraining.wrong_weight`` moves the share of the "0" verdict
between the two fake pairs: ½ is Reed et al.'s, 0 drops the wrong pair and leaves the plain
conditional D of ``gan.discriminator_loss`` (``benchmarks/ablation_gan_cls.py`` measures both).

The text encoder. Reed et al. pre-trained theirs (a char-CNN-RNN) on pairs of bird and flower
pictures and descriptions, so that φ(t) already says what a description means before the GAN
starts, and kept it fixed while the GAN trained. We do the same with the text half of the course's
small CLIP (``clip.CaptionEncoder``, trained on ShapesWorld's (picture, caption) pairs; notebook 08
builds it): a transformer over the caption tokenizer's ids, so word order counts ("a red circle
above a blue square" is not "a blue square above a red circle"). It stays frozen; G and D learn only
their projections of φ(t). Why pre-trained: a GRU trained from scratch through D's loss alone (the
first version of this module) learned the position words, which come last in most captions, and
little of the colour and shape: after 8,000 steps of the full preset 6.3 % of seen captions came out
right, against 24.8 % after 4,000 steps with the frozen CLIP encoder (benchmarks/results/
gan_experiments.md, "Text-conditional GAN").
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


from . import checkpoints, clip, device_of, eval_sets, gan, oracle
from .checkpoints import Checkpointed
from .datasets import ShapesDataset, loader
from .gan import Discriminator, Generator, InstanceNoise, generator_loss, init_weights
from .train import History, Preset, Training, fit, pick, seeded


@dataclasses.dataclass
class TextGANConfig:
    """Sizes of the text encoder and of the two networks."""

    z_dim: int = 32  # length of the noise vector z
    # the text encoder: sizes of the shipped CLIP's text half, whose weights it starts from
    phi_dim: int = clip.PRESETS["full"].config.embed_dim  # size of the text encoding φ(t)
    text_width: int = clip.PRESETS["full"].config.text_width
    text_heads: int = clip.PRESETS["full"].config.text_heads
    text_layers: int = clip.PRESETS["full"].config.text_layers
    pretrained_text: bool = True  # φ(t) from a trained CLIP's text weights (``build``); False: random
    proj_dim: int = 32  # φ(t) is projected to this lower dimension in G and in D
    width: int = 16  # channels of D's first / G's last feature map; doubled at each ×2 step


@dataclasses.dataclass
class TextGANTraining(Training):
    """How GAN-CLS is trained: DCGAN's Adam, on (picture, caption) pairs of one kind of scene."""

    lr: float = 2e-4  # Adam learning rate of both players
    beta1: float = 0.5  # Adam's first-moment decay (DCGAN's 0.5)
    batch_size: int = 32  # (image, caption) pairs per step
    steps: int = 1500  # optimiser steps (one D step and one G step each)
    n_train: int = 10_000  # ShapesWorld (image, caption) pairs, train split
    kind: str = "one"  # scenes to learn: "one" object, "two" in a relation, or "mixed"
    instance_noise: float = 0.0  # starting std of the noise on D's pictures, fading to 0 (``gan.InstanceNoise``)
    wrong_weight: float = 0.5  # D's weight on the (wrong, right) pair, 1 - it on (fake, right); 0: no wrong pair


PRESETS = {
    "tiny": Preset(TextGANConfig(z_dim=4, phi_dim=8, text_width=8, text_heads=2, text_layers=1, pretrained_text=False,
                                 proj_dim=4, width=4),
                   TextGANTraining(batch_size=4, steps=2, n_train=16, instance_noise=0.3)),  # unit tests
    "smoke": Preset(TextGANConfig(width=8), TextGANTraining(batch_size=16, steps=8, n_train=256, instance_noise=0.3)),  # CI
    "workshop": Preset(TextGANConfig(), TextGANTraining(steps=4000, seconds=150, instance_noise=0.3)),  # a laptop CPU
    # shipped: 16,000 steps took 50 min on 2 CPU threads (seen captions 86 %; 42 % when stopped at 8,000)
    "full": Preset(TextGANConfig(width=32), TextGANTraining(batch_size=64, steps=16000, seconds=5400, instance_noise=0.3)),
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


def _projection(phi_dim: int, proj_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(phi_dim, proj_dim), nn.LeakyReLU(0.2))


class TextGAN(Checkpointed, nn.Module):
    """Text encoder, generator and matching-aware discriminator, built from a ``TextGANConfig``."""

    config_class = TextGANConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: TextGANConfig):
        super().__init__()
        self.config = config
        self.g_project = _projection(config.phi_dim, config.proj_dim)
        self.generator = Generator(config.z_dim + config.proj_dim, config.width)
        self.d_project = _projection(config.phi_dim, config.proj_dim)
        self.discriminator = Discriminator(config.width, cond_dim=config.proj_dim)
        init_weights(self)
        self.encoder = clip.CaptionEncoder(clip.ClipConfig(
            embed_dim=config.phi_dim, text_width=config.text_width, text_heads=config.text_heads,
            text_layers=config.text_layers)).requires_grad_(False)  # frozen: neither player trains it

    @torch.no_grad()
    def phi(self, prompts: Sequence[str]) -> torch.Tensor:
        """φ(t) of each caption: (B, phi_dim); bad words raise ``captions.CaptionError``.

        The encoder's unit-length embedding, scaled by √phi_dim so that each coordinate is of order 1,
        as the projections' initial weights expect."""
        return self.encoder(prompts) * self.config.phi_dim ** 0.5

    def generate(self, z: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """G(z, φ(t)): z (B, z_dim) and φ (B, phi_dim) -> pictures (B, 3, 32, 32) in [0, 1]."""
        return self.generator(torch.cat([z, self.g_project(phi)], 1))  # depth concat at 1×1

    def score(self, images: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """D(x, φ(t)): one logit (B,) per (picture, caption) pair; high means "real and matching"."""
        return self.discriminator(images, self.d_project(phi))

    def noise(self, n: int, seed: int | None = None) -> torch.Tensor:
        """z ~ N(0, I): (n, z_dim), repeatable with ``seed``."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(n, self.config.z_dim, generator=gen)

    @torch.no_grad()
    def sample(self, prompts: Sequence[str], seed: int | None = 0, z: torch.Tensor | None = None) -> torch.Tensor:
        """One picture per prompt (B, 3, 32, 32) in [0, 1], in eval mode; bad words raise ``CaptionError``."""
        was_training = self.training
        self.eval()
        phi = self.phi(prompts)
        z = (self.noise(len(prompts), seed) if z is None else z).to(phi.device)
        images = torch.cat([self.generate(zc, pc) for zc, pc in zip(z.split(500), phi.split(500))])
        self.train(was_training)
        return images


def build(config: TextGANConfig, clip_checkpoint: str | Path | None = None) -> TextGAN:
    """A GAN-CLS ready to train: fresh G and D and, with ``config.pretrained_text``, the text encoder
    holding the text weights of a trained CLIP (``clip_checkpoint``, by default the shipped one)."""
    model = TextGAN(config)
    if config.pretrained_text:
        path = clip_checkpoint or checkpoints.shipped("clip")
        model.encoder.copy_from(checkpoints.load(path, clip.ShapesCLIP, clip.ClipConfig))
    return model


def with_text_sizes_of(config: TextGANConfig, clip_checkpoint: str | Path) -> TextGANConfig:
    """``config`` with the text encoder sized as the CLIP in ``clip_checkpoint``, so that ``build`` can
    start φ(t) from it (a CLIP trained in another mode has other sizes)."""
    sizes = checkpoints.read_config(clip_checkpoint)["config"]
    return dataclasses.replace(config, phi_dim=sizes["embed_dim"], text_width=sizes["text_width"],
                               text_heads=sizes["text_heads"], text_layers=sizes["text_layers"])


# ---------------------------------------------------------------- the matching-aware game

def mismatched(images: torch.Tensor) -> torch.Tensor:
    """"Wrong" images for a batch: each caption gets the next real picture of the batch (a roll)."""
    return images.roll(1, dims=0)


def discriminator_loss(real_right: torch.Tensor, wrong_right: torch.Tensor,
                       fake_right: torch.Tensor, wrong_weight: float = 0.5) -> torch.Tensor:
    """GAN-CLS's D loss from the logits of its three pairs (Reed et al. 2016, Algorithm 1):
    (real, right) → 1, (wrong, right) → 0, (fake, right) → 0, the two "0" terms weighted
    ``wrong_weight`` and 1 - ``wrong_weight`` (Reed et al.: ½ each)."""
    bce = F.binary_cross_entropy_with_logits
    return (bce(real_right, torch.ones_like(real_right))
            + wrong_weight * bce(wrong_right, torch.zeros_like(wrong_right))
            + (1 - wrong_weight) * bce(fake_right, torch.zeros_like(fake_right)))


def optimizers(model: TextGAN, training: TextGANTraining) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for G (generator and its projection) and for D (discriminator and its projection); the
    text encoder is frozen."""
    betas = (training.beta1, 0.999)
    g_params = [*model.generator.parameters(), *model.g_project.parameters()]
    d_params = [*model.discriminator.parameters(), *model.d_project.parameters()]
    return (torch.optim.Adam(g_params, lr=training.lr, betas=betas),
            torch.optim.Adam(d_params, lr=training.lr, betas=betas))


def train_step(model: TextGAN, opt_g, opt_d, real: torch.Tensor, prompts: Sequence[str],
               z: torch.Tensor, wrong_weight: float = 0.5) -> dict[str, float]:
    """One round of GAN-CLS on real pictures (B, 3, 32, 32), their captions and noise z (B, z_dim);
    with ``wrong_weight`` 0, D never sees a wrong pair (a plain conditional GAN)."""
    phi = model.phi(prompts)  # (B, phi_dim), from the frozen encoder
    fake = model.generate(z, phi)  # (B, 3, 32, 32)
    # D's move on the three pairs, all with the right caption
    if wrong_weight:
        d_loss = discriminator_loss(model.score(real, phi), model.score(mismatched(real), phi),
                                    model.score(fake.detach(), phi), wrong_weight)
    else:  # the wrong pair off: notebook 01's D loss, on pictures paired with their captions
        d_loss = gan.discriminator_loss(model.score(real, phi), model.score(fake.detach(), phi))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    # G's move: make D call (fake, right caption) real and matching
    g_loss = generator_loss(model.score(fake, phi))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"D": d_loss.item(), "G": g_loss.item()}


def make_step(model: TextGAN, training: TextGANTraining) -> Callable[[tuple], dict[str, float]]:
    """``step(batch)`` for ``train.fit``: seeded noise, one round of the matching-aware game, and a
    little less instance noise on D's pictures (as in ``gan.make_step``)."""
    opt_g, opt_d = optimizers(model, training)
    noise = torch.Generator().manual_seed(training.seed)
    instance_noise = InstanceNoise(model.discriminator, training.instance_noise, training.budget)

    def step(batch):
        real, prompts = batch
        real = real.to(device_of(model))
        z = torch.randn(len(real), model.config.z_dim, generator=noise).to(real.device)
        losses = train_step(model, opt_g, opt_d, real, prompts, z, training.wrong_weight)
        instance_noise.step()
        return losses

    return step


def training_data(training: TextGANTraining) -> ShapesDataset:
    """(image, varied caption) pairs of the train split: held-out combinations never appear."""
    return ShapesDataset(training.n_train, split="train", kind=training.kind, seed=training.seed)


def train(model: TextGAN, training: TextGANTraining, *, data=None, callback=None, every: int = 0,
          progress: bool = True) -> tuple[TextGAN, History]:
    """Train ``model`` (fresh from ``build``, its φ(t) from a trained CLIP) within ``training``'s
    budget, seeded by ``training.seed``; return it (in eval mode) and its history."""
    data = training_data(training) if data is None else data
    with seeded(training.seed):  # the instance noise on D's pictures draws from torch's generator
        history = fit(make_step(model.train(), training), loader(data, training.batch_size, seed=training.seed),
                      training.budget, every=every, callback=callback, desc="GAN-CLS", progress=progress,
                      device=device_of(model))
    return model.eval(), history


# ---------------------------------------------------------------- measuring

def evaluate(model: TextGAN, n: int = 1000, kind: str = "one") -> dict[str, float]:
    """Oracle caption accuracy of one sample per prompt, on ``n`` seen and ``n`` held-out combinations
    of ``kind`` (the kind of scene it was trained on): ``caption_acc_seen``, ``caption_acc_heldout``
    (prompts and noise seeded by ``eval_sets.TEXT_GAN_SEED``)."""
    figures = {}
    for split, tag in eval_sets.SPLIT_TAGS.items():
        ps = eval_sets.prompts(n, split, kind, seed=eval_sets.TEXT_GAN_SEED)
        figures[f"caption_acc_{tag}"] = oracle.caption_accuracy(model.sample(ps, seed=eval_sets.TEXT_GAN_SEED).cpu(), ps)
    return figures

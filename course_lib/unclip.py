"""unCLIP in miniature (DALL·E 2; Ramesh et al. 2022): a prior to CLIP's image embedding, and a decoder from it.

Slides "DALL-E2 (combines diffusion, CLIP & GLIDE)" and "DALL-E2 limitations". DALL·E 2 draws a caption
in two steps, both through the embedding space of a CLIP (here the course's, notebook 08, frozen):

    caption --CLIP text tower--> z_t --prior--> z_i --decoder--> picture --CLIP--> rerank

- the **prior** turns the caption's CLIP text embedding z_t into a CLIP *image* embedding z_i, the
  embedding a picture of that caption would have. The paper's is a diffusion model over the embedding
  vector that predicts z_i itself rather than the noise (``DiffusionPrior``: here a small MLP instead
  of their transformer); ``RegressionPrior``, one MLP step from z_t to z_i, is the baseline that
  shows why a prior should sample: a caption leaves size and position open, and a regression can
  only answer with the mean of its pictures' embeddings. The paper also tried no prior at all, the
  decoder handed z_t itself (``prior="none"`` here), and found it worse;
- the **decoder** is notebook 12's conditional diffusion model (``glide.ConditionalDiffusion``) with
  the caption replaced by z_i: projected into ``clip_tokens`` extra tokens its cross-attention reads,
  and added to the time embedding, as the paper does. Training drops z_i to zero for
  ``embedding_dropout`` of the pictures, so sampling can use classifier-free guidance.

What only unCLIP can do (notebook 13): **variations** (encode a picture with CLIP, decode z_i again
with other noise: what CLIP kept stays, what it dropped changes) and **interpolation** between two
pictures' embeddings. What it does worse, the slide says, is binding attributes to objects: a single
vector of 64 numbers holds the whole caption (``course_lib.swaps`` measures it).

``UnCLIP`` holds the decoder, both priors and its own frozen copy of the CLIP, so one checkpoint draws.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import captions, checkpoints, clip, device_of, eval_sets, oracle
from .checkpoints import Checkpointed
from .datasets import ShapesDataset, loader
from .diffusion import DiffusionConfig, DiffusionTraining, fill_codec, noised, optimizing, train_with, with_vq_sizes
from .diffusion_process import alphas_cumprod, betas, sample_loop, scheduler
from .glide import Caption, ConditionalDiffusion, check_scale
from .train import Budget, History, Preset, fit, pick

PRIORS = ("diffusion", "regression", "none")  # "none": the decoder is handed z_t itself (the paper's ablation)
DEFAULT_SCALE = 3.0  # the decoder's guidance scale unless told
PRIOR_STEPS = 20  # DDIM steps of the diffusion prior


@dataclasses.dataclass
class UnclipConfig(DiffusionConfig):
    """The decoder's U-Net (``DiffusionConfig``), how it reads z_i, the priors, and the CLIP's sizes."""

    heads: int = 4  # attention heads of the decoder's transformer blocks
    clip_tokens: int = 4  # z_i becomes this many cross-attention tokens (the paper: 4)
    token_width: int = 64
    prior_width: int = 256  # hidden width of both priors' MLPs
    prior_timesteps: int = 100  # T of the diffusion prior's noising chain
    # the CLIP the model reads and encodes with (copied from its checkpoint by ``build``)
    clip_embed_dim: int = 64
    clip_vision_width: int = 96
    clip_vision_layers: int = 3
    clip_patch_size: int = 4
    clip_text_width: int = 64
    clip_text_heads: int = 2
    clip_text_layers: int = 2


@dataclasses.dataclass
class UnclipTraining(DiffusionTraining):
    """The decoder's training (``DiffusionTraining``: steps / seconds are its budget), then the priors'."""

    n_train: int = 20_000  # mixed ShapesWorld scenes (train split) with varied captions
    embedding_dropout: float = 0.1  # share of z_i replaced by zeros (the paper: 10 %)
    prior_steps: int = 3000  # steps of both priors, trained together on the pairs' embeddings
    prior_batch_size: int = 256


PRESETS = {
    "tiny": Preset(UnclipConfig(space="pixel", channels=(8, 16), attention=(False, True), timesteps=10,
                                vq_channels=8, code_dim=8, codebook_size=16, latent_channels=4, heads=2,
                                clip_tokens=2, token_width=8, prior_width=16, prior_timesteps=10),
                   UnclipTraining(batch_size=4, steps=2, n_train=16, ema_decay=0.9, prior_steps=2,
                                  prior_batch_size=8)),  # unit tests
    "smoke": Preset(UnclipConfig(channels=(16, 32), timesteps=20, heads=2, token_width=16, prior_width=64,
                                 prior_timesteps=20),
                    UnclipTraining(batch_size=16, steps=6, n_train=256, ema_decay=0.9, prior_steps=20,
                                   prior_batch_size=64)),  # CI: seconds
    "workshop": Preset(UnclipConfig(channels=(32, 64)),
                       UnclipTraining(lr=2e-3, batch_size=32, steps=1000, seconds=100, n_train=5000, ema_decay=0.995,
                                      prior_steps=1000)),  # a laptop: minutes
    # shipped: on the 2-core CPU (one thread) the decoder's seconds run out first
    "full": Preset(UnclipConfig(channels=(32, 64)),
                   UnclipTraining(lr=2e-3, batch_size=32, steps=20_000, seconds=2400, ema_decay=0.998)),
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


def clip_config(config: UnclipConfig) -> clip.ClipConfig:
    return clip.ClipConfig(embed_dim=config.clip_embed_dim, vision_width=config.clip_vision_width,
                           vision_layers=config.clip_vision_layers, patch_size=config.clip_patch_size,
                           text_width=config.clip_text_width, text_heads=config.clip_text_heads,
                           text_layers=config.clip_text_layers)


def _mlp(width_in: int, width: int, width_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width_in, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                         nn.Linear(width, width_out))


class RegressionPrior(nn.Module):
    """z_t (B, D) -> ẑ_i (B, D), unit length: one answer per caption, trained on the squared error."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.net = _mlp(dim, width, dim)

    def forward(self, z_text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(z_text), dim=-1)


class DiffusionPrior(nn.Module):
    """A diffusion model over image embeddings, given the text embedding: (x_t, t, z_t) -> x̂_0.

    x_0 is z_i scaled by √D (so its numbers have unit variance, as the noise does). Like the paper's, it
    predicts x_0 rather than the noise, trained on ‖x_0 - x̂_0‖²; sampling runs DDIM with diffusers'
    ``prediction_type="sample"`` and returns unit-length embeddings."""

    def __init__(self, dim: int, width: int, timesteps: int):
        super().__init__()
        self.time = nn.Embedding(timesteps, dim)
        self.net = _mlp(3 * dim, width, dim)
        self.register_buffer("betas", betas("cosine", timesteps), persistent=False)

    @property
    def scale(self) -> float:
        return self.time.embedding_dim ** 0.5

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z_text: torch.Tensor) -> torch.Tensor:
        t = t.expand(len(x_t)) if t.dim() == 0 else t
        return self.net(torch.cat([x_t, z_text, self.time(t)], dim=-1))

    def loss(self, z_text: torch.Tensor, z_image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x0 = z_image * self.scale
        x_t, t, _ = noised(x0, len(self.betas), generator, alphas_cumprod(self.betas))
        return F.mse_loss(self(x_t, t, z_text), x0)

    @torch.no_grad()
    def sample(self, z_text: torch.Tensor, generator: torch.Generator, steps: int = PRIOR_STEPS) -> torch.Tensor:
        timesteps = len(self.betas)
        x = sample_loop(lambda x_t, t: self(x_t, t, z_text), scheduler("ddim", "cosine", timesteps, prediction="sample"),
                        tuple(z_text.shape), min(steps, timesteps), generator=generator, device=z_text.device)
        return F.normalize(x, dim=-1)


class UnCLIP(Checkpointed, ConditionalDiffusion):
    """The decoder ε_θ(x_t, t, z_i), the two priors, and the frozen CLIP they all read."""

    config_class = UnclipConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: UnclipConfig):
        super().__init__(config, config.token_width, config.clip_embed_dim)
        dim = config.clip_embed_dim
        self.to_tokens = nn.Linear(dim, config.clip_tokens * config.token_width)
        self.prior = DiffusionPrior(dim, config.prior_width, config.prior_timesteps)
        self.regression = RegressionPrior(dim, config.prior_width)
        self.clip = clip.ShapesCLIP(clip_config(config)).requires_grad_(False)

    def condition(self, z_image: torch.Tensor) -> Caption:
        """Image embeddings (B, D) -> what the U-Net reads: z_i itself and ``clip_tokens`` tokens made from it."""
        tokens = self.to_tokens(z_image).view(len(z_image), self.config.clip_tokens, self.config.token_width)
        return Caption(z_image, tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=z_image.device))

    def unconditional(self, n: int) -> Caption:
        return self.condition(torch.zeros(n, self.config.clip_embed_dim, device=device_of(self)))

    @torch.no_grad()
    def image_embeddings(self, prompts: Sequence[str], prior: str = "diffusion", seed: int = 0) -> torch.Tensor:
        """The prior's z_i (B, D) for each prompt (``"none"``: z_t itself); a bad prompt raises ``CaptionError``."""
        if prior not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}; choose one of: {', '.join(PRIORS)}")
        z_text = self.clip.encode_text(captions.check_prompts(prompts))
        if prior == "none":
            return z_text
        if prior == "regression":
            return self.regression(z_text)
        return self.prior.sample(z_text, torch.Generator().manual_seed(seed))

    def decode(self, z_image: torch.Tensor, *, scale: float = DEFAULT_SCALE, **sampling) -> torch.Tensor:
        """One picture (B, 3, 32, 32) per image embedding (``glide.ConditionalDiffusion.sample_given``'s
        ``sampling``: sampler, steps, seed, dynamic, ...)."""
        return self.sample_given(self.condition(z_image.to(device_of(self))), scale=scale, **sampling)

    def sample(self, prompts: Sequence[str], *, prior: str = "diffusion", scale: float = DEFAULT_SCALE,
               seed: int = 0, **sampling) -> torch.Tensor:
        """Caption -> prior -> z_i -> decoder: one picture per prompt, on the model's device; the same
        seed gives the same pictures. A bad prompt, prior or scale raises before any sampling."""
        check_scale(scale)
        return self.decode(self.image_embeddings(prompts, prior, seed), scale=scale, seed=seed, **sampling)

    def variations(self, picture: torch.Tensor, n: int = 8, *, seed: int = 0, **sampling) -> torch.Tensor:
        """n pictures (n, 3, 32, 32) decoded from one picture's (3, 32, 32) CLIP embedding."""
        with torch.no_grad():
            z = self.clip.encode_image(picture[None])  # (1, D)
        return self.decode(z.repeat(n, 1), seed=seed, **sampling)

    def interpolate(self, a: torch.Tensor, b: torch.Tensor, n: int = 8, *, seed: int = 0, **sampling) -> torch.Tensor:
        """n pictures decoded, with the same starting noise, from embeddings on the great circle from
        picture ``a``'s CLIP embedding to ``b``'s (spherical interpolation, as the paper)."""
        with torch.no_grad():
            za, zb = self.clip.encode_image(torch.stack([a, b]))
        angle = torch.arccos((za @ zb).clamp(-1, 1))
        ws = torch.linspace(0, 1, n, device=za.device)[:, None]
        z = (torch.sin((1 - ws) * angle) * za + torch.sin(ws * angle) * zb) / torch.sin(angle).clamp_min(1e-6)
        return torch.cat([self.decode(z[i:i + 1], seed=seed, **sampling) for i in range(n)])


def build(config: UnclipConfig, vqgan_checkpoint: str | Path | None = None,
          clip_checkpoint: str | Path | None = None) -> UnCLIP:
    """A fresh model: the VQ-GAN's weights in the codec (latent space), the CLIP's sizes and weights
    (default: shipped); decoder and priors untrained."""
    clip_checkpoint = clip_checkpoint or checkpoints.shipped("clip")
    sizes = checkpoints.read_config(clip_checkpoint)["config"]
    config = dataclasses.replace(
        config, clip_embed_dim=sizes["embed_dim"], clip_vision_width=sizes["vision_width"],
        clip_vision_layers=sizes["vision_layers"], clip_patch_size=sizes["patch_size"],
        clip_text_width=sizes["text_width"], clip_text_heads=sizes["text_heads"], clip_text_layers=sizes["text_layers"])
    model = UnCLIP(with_vq_sizes(config, vqgan_checkpoint))
    fill_codec(model.codec, vqgan_checkpoint, kind="mixed")
    model.clip.load_state_dict(checkpoints.load(clip_checkpoint, clip.ShapesCLIP, clip.ClipConfig).state_dict())
    return model


# ---------------------------------------------------------------- training

def make_step(model: UnCLIP, training: UnclipTraining, average: nn.Module | None = None):
    """The decoder's ``step(batch)`` on (pictures, captions): z_i of each picture from the frozen CLIP,
    ``embedding_dropout`` of them zeroed, x_0 noised to a random step; one AdamW step on the ε loss."""
    generator = torch.Generator().manual_seed(training.seed)
    alpha_bar = alphas_cumprod(model.betas)

    def loss_of(batch):
        images = batch[0].to(device_of(model))
        with torch.no_grad():
            z = model.clip.encode_image(images)  # (B, D)
        kept = (torch.rand(len(z), 1, generator=generator) >= training.embedding_dropout).to(z)
        x_t, t, noise = noised(model.codec.encode(images), model.config.timesteps, generator, alpha_bar)
        return F.mse_loss(model(x_t, t, model.condition(z * kept)), noise)

    return optimizing(model, training, loss_of, average)


@torch.no_grad()
def embedding_pairs(model: UnCLIP, data: ShapesDataset, batch_size: int = 500) -> torch.utils.data.TensorDataset:
    """(z_t, z_i) of every (picture, caption) of ``data``: what the priors learn from."""
    pairs = [(model.clip.encode_text(data.captions[i:i + batch_size]), model.clip.encode_image(data.images[i:i + batch_size]))
             for i in range(0, len(data), batch_size)]
    return torch.utils.data.TensorDataset(*(torch.cat(part).cpu() for part in zip(*pairs)))


def train_priors(model: UnCLIP, training: UnclipTraining, data: ShapesDataset, progress: bool = True) -> History:
    """Both priors, ``prior_steps`` of AdamW on their summed losses (their weights are apart, so each
    learns as it would alone): the regression's squared error to z_i, the diffusion prior's to x_0."""
    priors = nn.ModuleList([model.prior, model.regression])
    optimizer = torch.optim.AdamW(priors.parameters(), lr=training.lr)
    generator, device = torch.Generator().manual_seed(training.seed), device_of(model)

    def step(batch):
        z_text, z_image = (b.to(device) for b in batch)
        regression = F.mse_loss(model.regression(z_text), z_image)
        diffusion = model.prior.loss(z_text, z_image, generator)
        optimizer.zero_grad()
        (regression + diffusion).backward()
        optimizer.step()
        return {"regression": regression.item(), "diffusion_prior": diffusion.item()}

    batches = loader(embedding_pairs(model, data), training.prior_batch_size, seed=training.seed)
    return fit(step, batches, Budget(training.prior_steps), desc="unCLIP priors", progress=progress, device=device)


def training_data(training: UnclipTraining) -> ShapesDataset:
    """(picture, varied caption) pairs of one and two objects, train split, as GLIDE's."""
    return ShapesDataset(training.n_train, split="train", kind="mixed", seed=training.seed)


def train(model: UnCLIP, training: UnclipTraining, *, data=None, callback=None, every: int = 0,
          progress: bool = True) -> tuple[UnCLIP, History]:
    """Train the priors, then the decoder within ``training``'s budget; return the model holding the
    decoder's averaged weights (in eval mode) and the decoder's history (the priors' losses joined in)."""
    data = training_data(training) if data is None else data
    priors = train_priors(model, training, data, progress)
    model, history = train_with(model, training, make_step, data, desc="unCLIP decoder", callback=callback,
                                every=every, progress=progress)
    history.losses |= priors.losses
    return model, history


# ---------------------------------------------------------------- measuring

def evaluate(model: UnCLIP, n: int = 200, **sampling) -> dict[str, float]:
    """Caption accuracy of one sample per prompt through each prior, on ``n`` canonical prompts of each
    split and kind: ``caption_acc_*`` (diffusion prior) and ``regression_caption_acc_*``."""
    figures = {}
    for prior, prefix in (("diffusion", ""), ("regression", "regression_")):
        for split, tag in eval_sets.SPLIT_TAGS.items():
            for kind in ("one", "two"):
                prompts = eval_sets.prompts(n, split, kind)
                pictures = model.sample(prompts, prior=prior, **sampling).cpu()
                figures[f"{prefix}caption_acc_{tag}_{kind}"] = oracle.caption_accuracy(pictures, prompts)
    return figures

"""GLIDE in miniature: text-conditional diffusion with classifier-free guidance (Nichol et al. 2022).

Slides "GLIDE as a first text-2-image diffusion model", "GLIDE inference". GLIDE conditions its
diffusion U-Net on a caption in two places (the paper's "Text-Conditional Diffusion Models"), both kept here:

- a transformer encodes the caption's tokens; the U-Net's attention layers also attend to the
  token embeddings (GLIDE appends them to each attention layer's keys and values; here
  **cross-attention**, diffusers' ``UNet2DConditionModel`` with cross-attention blocks,
  ``encoder_hidden_states`` = the tokens, padding masked out: a close stand-in);
- the transformer's **pooled** embedding (read at the end token) is projected and added to the
  time-step embedding, so every residual block hears the caption as it hears t
  (``class_embed_type="projection"``).

GLIDE trains its text transformer with the diffusion model, from scratch (``GlideConfig.text =
"own"``). The switch ``text = "clip"`` puts the course's CLIP text tower (notebook 08) there instead,
frozen, as DALL·E 2 and Imagen later did with frozen encoders; both are open_clip's text transformer
(``clip.CaptionEncoder``), so the switch changes only where the weights come from and whether they learn.
Notebook 13's Imagen in miniature (``course_lib.imagen``) adds two more frozen encoders: ``"bart"``, the
encoder of notebook 07's BART (a language model's encoder, as Imagen's T5), and ``"random"``, a CLIP-shaped
tower left at its random initial weights (the floor: an encoder that knows nothing of captions).

**Classifier-free guidance** (Ho & Salimans 2022; GLIDE's guidance of choice): training replaces the caption
by the empty one for ``caption_dropout`` of the examples (``bart.drop_captions``), so one network
learns ε(x_t, c) and ε(x_t, ∅). Sampling mixes the two,

    ε̂ = ε(x_t, ∅) + s · (ε(x_t, c) - ε(x_t, ∅)),

``bart.guide``: the same mix notebook 07 applies to BART's logits, here applied to predicted noise.
s = 1 is the plain conditional model, s > 1 pushes each step towards the caption.

Like ``course_lib.diffusion`` it diffuses in the shipped VQ-GAN's 8×8 latent by default (GLIDE
diffuses pixels; ``space="pixel"`` does too, at a cost a CPU cannot pay: see that module).
**Inpainting** (GLIDE's editing, in miniature): ``inpaint`` redraws a masked part of a scene from a
caption by putting the known part back, noised to the current step, after every step (the
replacement method of Song et al. 2021, which needs no fine-tuned model; GLIDE fine-tunes one).
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import bart, captions, checkpoints, clip, device_of, eval_sets, oracle
from .checkpoints import Checkpointed
from .datasets import ShapesDataset
from .diffusion import (DiffusionConfig, DiffusionModel, DiffusionTraining, fill_codec, noised, norm_groups,
                        optimizing, train_with, unet_blocks, with_vq_sizes)
from .diffusion_process import alphas_cumprod, epsilon_loss, q_sample, sample_loop
from .train import History, Preset, pick

TEXT_ENCODERS = ("own", "clip", "bart", "random")
DEFAULT_SCALE = 3.0  # the guidance scale sampling uses unless told (notebook 12 measures 0 to 8)
DEFAULT_STEPS = 20  # DDIM steps sampling uses unless told


@dataclasses.dataclass
class GlideConfig(DiffusionConfig):
    """``DiffusionConfig``'s U-Net (``attention`` now means cross-attention to the caption, plus
    self-attention) and the caption transformer."""

    text: str = "own"  # "own": trained with the U-Net, as GLIDE; frozen: "clip" (the shipped CLIP's text
    # tower), "bart" (the shipped BART's encoder) or "random" (a CLIP-shaped tower with random weights)
    text_width: int = 64  # width of the caption transformer: what the U-Net's cross-attention reads
    text_heads: int = 2
    text_layers: int = 2
    text_ffn: int = 512  # feed-forward width of the caption transformer's layers, for text="bart" (CLIP's is 4 × width)
    embed_dim: int = 64  # size of the pooled caption embedding that joins the time embedding
    heads: int = 4  # attention heads of the U-Net's transformer blocks

    def __post_init__(self):
        super().__post_init__()
        if self.text not in TEXT_ENCODERS:
            raise ValueError(f"unknown text encoder {self.text!r}; choose one of: {', '.join(TEXT_ENCODERS)}")


@dataclasses.dataclass
class GlideTraining(DiffusionTraining):
    """``DiffusionTraining`` on (picture, caption) pairs of one and two objects, some captions dropped."""

    n_train: int = 20_000  # mixed ShapesWorld scenes (train split) with varied captions
    caption_dropout: float = 0.15  # share of captions replaced by "" (GLIDE: 20 %; Ho & Salimans: 10-20 %)


PRESETS = {
    "tiny": Preset(GlideConfig(space="pixel", channels=(8, 16), attention=(False, True), timesteps=10,
                               vq_channels=8, code_dim=8, codebook_size=16, latent_channels=4, text_width=8,
                               text_heads=2, text_layers=1, embed_dim=8, heads=2),
                   GlideTraining(batch_size=4, steps=2, n_train=16, ema_decay=0.9)),  # unit tests
    "smoke": Preset(GlideConfig(channels=(16, 32), attention=(False, True), timesteps=20, text_width=16,
                                text_layers=1, embed_dim=16, heads=2),
                    GlideTraining(batch_size=16, steps=6, n_train=256, ema_decay=0.9)),  # CI: seconds
    # a laptop: the frozen CLIP text tower, which learns to follow captions in fewer steps (ablation_glide_text.json)
    "workshop": Preset(GlideConfig(channels=(32, 64), attention=(False, True), text="clip"),
                       GlideTraining(lr=2e-3, batch_size=32, steps=1000, seconds=150, ema_decay=0.995)),
    # shipped: the frozen CLIP text tower too (the ablation: GLIDE's own transformer had learnt no caption
    # where CLIP's already read some); on the 2-core CPU (one thread) the 70 min run out first, a GPU does the steps
    "full": Preset(GlideConfig(channels=(32, 64), attention=(True, True), text="clip"),
                   GlideTraining(batch_size=32, steps=30_000, seconds=4200)),
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


@dataclasses.dataclass
class Caption:
    """A batch of encoded captions: pooled (B, embed_dim), tokens (B, L, text_width), mask (B, L) of real tokens."""

    pooled: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return len(self.pooled)

    def repeat(self, n: int) -> "Caption":
        return Caption(*(v.repeat_interleave(n, 0) for v in (self.pooled, self.tokens, self.mask)))

    @staticmethod
    def cat(parts: Sequence["Caption"]) -> "Caption":
        return Caption(*(torch.cat([getattr(p, f) for p in parts]) for f in ("pooled", "tokens", "mask")))


def _text_config(config: GlideConfig) -> clip.ClipConfig:
    return clip.ClipConfig(embed_dim=config.embed_dim, text_width=config.text_width, text_heads=config.text_heads,
                           text_layers=config.text_layers)


class ConditionalDiffusion(DiffusionModel):
    """ε_θ(x_t, t, c) for a condition c given as a ``Caption`` (a pooled vector that joins the time
    embedding, tokens the cross-attention reads): diffusers' ``UNet2DConditionModel``, classifier-free
    guidance and the sampling loop. GLIDE's c is an encoded caption; unCLIP's decoder's is a CLIP image
    embedding (``course_lib.unclip``). A subclass says what c is with no condition (``unconditional``)."""

    def __init__(self, config: DiffusionConfig, token_width: int, pooled_width: int):
        super().__init__(config)
        from diffusers import UNet2DConditionModel

        channels, size, _ = self.codec.shape
        down, up = unet_blocks(config, "CrossAttn", "")
        self.unet = UNet2DConditionModel(
            sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=tuple(config.channels),
            layers_per_block=config.layers_per_block, down_block_types=down, up_block_types=up,
            norm_num_groups=norm_groups(config), cross_attention_dim=token_width,
            attention_head_dim=config.heads,  # diffusers' name for the number of heads in this class
            class_embed_type="projection", projection_class_embeddings_input_dim=pooled_width)

    def unconditional(self, n: int) -> Caption:
        """The condition guidance compares with, for a batch of n."""
        raise NotImplementedError

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, caption: Caption) -> torch.Tensor:
        """ε̂ (B, C, S, S) of x_t (B, C, S, S) at steps t (B,) or (), given the encoded captions."""
        return self.unet(x_t, t, encoder_hidden_states=caption.tokens, class_labels=caption.pooled,
                         encoder_attention_mask=caption.mask).sample

    def denoiser(self, caption: Caption, scale: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """x_t, t -> the guided ε̂ for ``caption`` at guidance ``scale`` (one batched pass for both
        predictions; s = 1 needs only the conditional one, s = 0 only the unconditional one)."""
        empty = self.unconditional(len(caption))

        def denoise(x_t, t):
            if scale == 1:
                return self(x_t, t, caption)
            if scale == 0:
                return self(x_t, t, empty)
            uncond, cond = self(torch.cat([x_t, x_t]), t, Caption.cat([empty, caption])).chunk(2)
            return bart.guide(cond, uncond, scale)

        return denoise

    @torch.no_grad()
    def sample_given(self, condition: Caption, *, scale: float, sampler: str = "ddim", steps: int = DEFAULT_STEPS,
                     seed: int = 0, batch_size: int = 200, dynamic: bool = False,
                     keep: Callable[[int, torch.Tensor], None] | None = None,
                     known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """One picture per condition (B, 3, 32, 32) in [0, 1] on the model's device, in eval mode; the same
        seed gives the same pictures. ``dynamic``: Imagen's dynamic thresholding of x̂_0 instead of
        clipping. ``known`` = (pictures, mask): keep the pictures where the mask (B, 1, 32, 32) is 0 and
        draw the rest (``inpaint``)."""
        check_scale(scale)
        steps = self.sampling_steps(sampler, steps)
        was_training, generator = self.training, torch.Generator().manual_seed(seed)
        self.eval()
        pictures = []
        for start in range(0, len(condition), batch_size):
            part = slice(start, start + batch_size)
            caption = Caption(condition.pooled[part], condition.tokens[part], condition.mask[part])
            shape = (len(caption), *self.codec.shape)
            after_step = (_put_back(self, known[0][part], known[1][part], generator) if known is not None else None)
            x = sample_loop(self.denoiser(caption, scale), self.scheduler(sampler, dynamic), shape, steps,
                            generator=generator, device=device_of(self), keep=keep if start == 0 else None,
                            after_step=after_step)
            pictures.append(self.codec.decode(x))
        self.train(was_training)
        return torch.cat(pictures)


class Glide(Checkpointed, ConditionalDiffusion):
    """ε_θ(x_t, t, caption): a caption transformer and diffusers' ``UNet2DConditionModel``, with the ``Codec``."""

    config_class = GlideConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: GlideConfig):
        super().__init__(config, config.text_width, config.embed_dim)
        if config.text == "bart":
            from .imagen import BartTextEncoder

            self.text = BartTextEncoder(config)
        else:
            self.text = clip.CaptionEncoder(_text_config(config))
            self.text.tower.output_tokens = True  # (pooled, every token's embedding)
        self.text.requires_grad_(config.text == "own")

    def encode_text(self, prompts: Sequence[str]) -> Caption:
        """Prompts ("" is the empty caption of guidance) -> ``Caption``; bad words raise ``CaptionError``."""
        encoder = self.text
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.text == "own"):
            if self.config.text == "bart":
                return Caption(*encoder(prompts, device_of(self)))
            ids = clip.tokenize(encoder.tokenizer, prompts, encoder.config.context_length).to(device_of(self))
            pooled, tokens = encoder.tower(ids)  # (B, embed_dim), (B, L, text_width)
        return Caption(pooled, tokens, ids != encoder.tokenizer.pad_token_id)

    def unconditional(self, n: int) -> Caption:
        return self.encode_text([""]).repeat(n)

    def sample(self, prompts: Sequence[str], *, scale: float = DEFAULT_SCALE, **sampling) -> torch.Tensor:
        """One picture per prompt (B, 3, 32, 32) in [0, 1] on the model's device (``sample_given``'s
        ``sampling``: sampler, steps, seed, batch_size, dynamic, keep, known); a bad prompt or scale
        raises before any sampling."""
        check_scale(scale)
        return self.sample_given(self.encode_text(captions.check_prompts(prompts)), scale=scale, **sampling)


def check_scale(scale: float) -> None:
    """A guidance scale must be a number from 0 to 100 (the command line's range); say so before sampling."""
    if not isinstance(scale, (int, float)) or not 0 <= scale <= 100:
        raise ValueError(f"guidance scale {scale!r} is outside 0 to 100; 1 is plain conditional sampling, "
                         "3 the default, 0 ignores the caption")


def _put_back(model: ConditionalDiffusion, pictures: torch.Tensor, mask: torch.Tensor, generator: torch.Generator):
    """``after_step`` of inpainting: the known region (mask 0) of x_{t-1} replaced by the known
    picture's own x_{t-1} ~ q(x_{t-1} | x_0) (its x_0 after the last step)."""
    device = device_of(model)
    x0 = model.codec.encode(pictures.to(device))  # (B, C, S, S)
    redraw = latent_mask(mask, x0.shape[-1]).to(device)  # (B, 1, S, S), 1 where the caption draws
    alpha_bar = alphas_cumprod(model.betas)

    def after_step(x, t_prev):
        noise = torch.randn(x.shape, generator=generator).to(device)
        known = x0 if t_prev < 0 else q_sample(x0, torch.full((len(x),), t_prev, device=device), noise, alpha_bar)
        return redraw * x + (1 - redraw) * known

    return after_step


def latent_mask(mask: torch.Tensor, size: int) -> torch.Tensor:
    """A picture mask (B, 1, 32, 32), 1 = redraw, at the diffused resolution (B, 1, size, size): a
    position is redrawn when any pixel it covers is."""
    return F.adaptive_max_pool2d(mask.float(), size)


def inpaint(model: Glide, pictures: torch.Tensor, mask: torch.Tensor, prompts: Sequence[str], **sampling) -> torch.Tensor:
    """Redraw where ``mask`` (B, 1, 32, 32) is 1 so that each picture fits its prompt; keep the rest.

    The sample is drawn with the known latent put back after every step; the kept pixels are then
    pasted over it, since the VQ-GAN's decoder draws each pixel from the codes around it too and would
    otherwise blur the kept part into the new one."""
    if mask.shape[0] != len(pictures) or mask.shape[1:] != (1, *pictures.shape[2:]):
        raise ValueError(f"the mask must be (B, 1, H, W) for pictures {tuple(pictures.shape)}, got {tuple(mask.shape)}")
    drawn = model.sample(prompts, known=(pictures, mask), **sampling)  # (B, 3, H, W) on the model's device
    mask, pictures = mask.to(drawn.device), pictures.to(drawn.device)
    return mask * drawn + (1 - mask) * pictures


def right_half_mask(n: int, size: int = 32) -> torch.Tensor:
    """(n, 1, size, size): 1 on the right half of the picture, the part an inpainting prompt redraws."""
    mask = torch.zeros(n, 1, size, size)
    mask[..., size // 2:] = 1
    return mask


def build(config: GlideConfig, vqgan_checkpoint: str | Path | None = None,
          clip_checkpoint: str | Path | None = None, bart_checkpoint: str | Path | None = None) -> Glide:
    """A fresh model. In latent space its codec takes the VQ-GAN's weights (``diffusion.fill_codec``); with
    ``text = "clip"`` (or ``"random"``) its caption transformer takes the CLIP's text sizes and, for
    ``"clip"``, its weights; with ``text = "bart"`` the BART's encoder sizes and weights (default: shipped)."""
    clip_checkpoint = clip_checkpoint or checkpoints.shipped("clip")
    if config.text in ("clip", "random"):
        sizes = checkpoints.read_config(clip_checkpoint)["config"]
        config = dataclasses.replace(config, embed_dim=sizes["embed_dim"], text_width=sizes["text_width"],
                                     text_heads=sizes["text_heads"], text_layers=sizes["text_layers"])
    if config.text == "bart":
        from .imagen import with_bart_sizes

        config = with_bart_sizes(config, bart_checkpoint or checkpoints.shipped("bart"))
    model = Glide(with_vq_sizes(config, vqgan_checkpoint))
    fill_codec(model.codec, vqgan_checkpoint, kind="mixed")
    if config.text == "clip":
        model.text.copy_from(checkpoints.load(clip_checkpoint, clip.ShapesCLIP, clip.ClipConfig))
    if config.text == "bart":
        model.text.copy_from(bart_checkpoint or checkpoints.shipped("bart"))
    return model


# ---------------------------------------------------------------- training

def make_step(model: Glide, training: GlideTraining, average: nn.Module | None = None) -> Callable:
    """``step(batch)`` for ``train.fit`` on (pictures, captions): drop ``caption_dropout`` of the captions,
    encode x_0 and the captions, draw t and ε (seeded by ``training.seed``), one AdamW step on the
    ε-prediction loss for the U-Net and, when it is GLIDE's own, the caption transformer
    (``diffusion.optimizing``)."""
    generator, rng = torch.Generator().manual_seed(training.seed), random.Random(training.seed)
    alpha_bar = alphas_cumprod(model.betas)

    def loss_of(batch):
        images, prompts = batch
        caption = model.encode_text(bart.drop_captions(prompts, training.caption_dropout, rng))
        x_t, t, noise = noised(model.codec.encode(images.to(device_of(model))), model.config.timesteps,
                               generator, alpha_bar)  # x_0 (B, C, S, S) noised to random steps
        return epsilon_loss(model(x_t, t, caption), noise)

    return optimizing(model, training, loss_of, average)


def training_data(training: GlideTraining) -> ShapesDataset:
    """(picture, varied caption) pairs of one and two objects, train split: held-out combinations never appear."""
    return ShapesDataset(training.n_train, split="train", kind="mixed", seed=training.seed)


def train(model: Glide, training: GlideTraining, *, data=None, callback=None, every: int = 0,
          progress: bool = True) -> tuple[Glide, History]:
    """Train ``model`` (fresh, from ``build``) within ``training``'s budget, seeded by ``training.seed``;
    return it holding the averaged weights (in eval mode) and its history."""
    data = training_data(training) if data is None else data
    return train_with(model, training, make_step, data, desc="GLIDE", callback=callback, every=every,
                      progress=progress)


# ---------------------------------------------------------------- measuring

def caption_accuracy(model: Glide, prompts: Sequence[str], **sampling) -> float:
    """Oracle caption accuracy of one picture per prompt (``sampling``: scale, steps, seed, ...)."""
    return oracle.caption_accuracy(model.sample(prompts, **sampling).cpu(), prompts)


def evaluate(model: Glide, n: int = 200, **sampling) -> dict[str, float]:
    """Caption accuracy of one sample per prompt at the default guidance (or ``sampling``'s) on ``n``
    canonical prompts of each split and kind: ``caption_acc_{seen,heldout}_{one,two}``."""
    return {f"caption_acc_{tag}_{kind}": caption_accuracy(model, eval_sets.prompts(n, split, kind), **sampling)
            for split, tag in eval_sets.SPLIT_TAGS.items() for kind in ("one", "two")}


def inpainting_task(n: int, *, split: str = "train", seed: int = eval_sets.PROMPT_SEED) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """GLIDE's editing in miniature: ``n`` scenes of one shape in the left column, each with a prompt that
    adds a second shape to its right, in the right column ("a red circle to the left of a blue square"),
    and the mask of the right half to redraw. (pictures (n, 3, 32, 32), prompts, masks (n, 1, 32, 32));
    the prompts' two-object scenes are of ``split``."""
    from . import captions as caption_grammar
    from .shapes import Scene, render, sample_scenes

    found, tries = [], 0
    while len(found) < n:
        tries += 1
        for scene in sample_scenes(20 * n, seed=seed + tries, split=split, kind="two"):
            a, b = scene.objects
            if {a.col, b.col} == {0, 2} and a.row == b.row and len(found) < n:
                left, right = (a, b) if a.col == 0 else (b, a)
                found.append(Scene((left, right)))
    pictures = render([Scene(s.objects[:1]) for s in found])
    return pictures, [caption_grammar.describe(s) for s in found], right_half_mask(n)

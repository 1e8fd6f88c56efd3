"""Imagen in miniature: GLIDE's diffusion model reading a frozen language model's encoder.

Saharia et al. (2022), "Photorealistic Text-to-Image Diffusion Models with Deep Language
Understanding"; the history deck's "May 2022: Imagen (diffusion model)". Imagen's two findings that a
ShapesWorld model can check:

1. **The text encoder.** Imagen conditions its diffusion U-Net on a *frozen* T5-XXL, a language
   model's encoder trained on text alone, and found that scaling that encoder improved pictures more
   than scaling the U-Net. Here the same diffusion model as notebook 12 (``glide.Glide``) reads one of
   three frozen encoders (``GlideConfig.text``): the course's CLIP text tower (trained on pictures and
   captions, notebook 08), the encoder of the course's BART (trained to translate captions into image
   tokens, notebook 07; the nearest thing the course has to T5, an encoder-decoder's encoder), and a
   CLIP-shaped tower with random weights, the floor. ``benchmarks/ablation_imagen_text.py`` trains
   each for the same steps, and one U-Net of half the width, and the oracle says which mattered more.
   The shipped ``imagen`` checkpoint is the BART-encoder model, trained longer.
2. **Dynamic thresholding.** Guidance at a high scale overshoots the data's range in x̂_0; Imagen
   replaces the clipping of x̂_0 to [-1, 1] by ``diffusion_process.dynamic_threshold``. Every sampler
   here takes ``dynamic=True``; ``threshold_study`` measures both at several scales.

``BartTextEncoder`` is the BART's encoder on its own (``transformers``' ``BartEncoder``), its pooled
embedding the mean of its token states over the caption's real tokens, as Imagen pools T5's.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import bart, checkpoints, eval_sets, glide, oracle, text
from .glide import GlideConfig, GlideTraining
from .train import Preset, pick

SCALES = (3, 5, 8)  # guidance scales ``threshold_study`` compares clipping and dynamic thresholding at


class BartTextEncoder(nn.Module):
    """Prompts -> (pooled (B, d), token states (B, L, d), mask (B, L)) from a BART encoder of
    ``config.text_width`` = d, ``text_layers``, ``text_heads`` and ``text_ffn`` (``with_bart_sizes``).

    It reads captions only, so it keeps only the caption rows of BART's embedding table (BART's
    vocabulary also holds the image codes its decoder writes) and the positions of a caption."""

    def __init__(self, config: GlideConfig):
        super().__init__()
        from transformers import BartConfig
        from transformers.models.bart.modeling_bart import BartEncoder

        self.tokenizer = text.load_tokenizer()
        self.max_tokens = bart.TranslatorConfig.max_text_tokens
        self.encoder = BartEncoder(BartConfig(
            vocab_size=len(self.tokenizer), d_model=config.text_width, encoder_layers=config.text_layers,
            encoder_attention_heads=config.text_heads, encoder_ffn_dim=config.text_ffn, dropout=0.0,
            max_position_embeddings=self.max_tokens, pad_token_id=self.tokenizer.pad_token_id))

    def forward(self, prompts: Sequence[str], device: torch.device):
        ids, mask = text.encode(self.tokenizer, list(prompts), max_length=self.max_tokens)
        pad = self.max_tokens - ids.shape[1]  # every batch as long, so guidance can stack two of them
        ids = F.pad(ids, (0, pad), value=self.tokenizer.pad_token_id).to(device)
        mask = F.pad(mask, (0, pad)).to(device)
        tokens = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, d)
        pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # mean over real tokens
        return pooled, tokens, mask.bool()

    def copy_from(self, bart_checkpoint: str | Path) -> "BartTextEncoder":
        """Take the encoder weights of a trained ``bart.CaptionToImageBart``: its layers, and the caption
        rows and caption positions of its embedding tables."""
        trained = checkpoints.load(bart_checkpoint, bart.CaptionToImageBart, bart.TranslatorConfig)
        ours = self.encoder.state_dict()
        weights = {name: value[:len(ours[name])] if name.startswith(("embed_tokens", "embed_positions")) else value
                   for name, value in trained.bart.get_encoder().state_dict().items()}
        self.encoder.load_state_dict(weights)
        return self


def with_bart_sizes(config: GlideConfig, bart_checkpoint: str | Path) -> GlideConfig:
    """``config`` with the text sizes of the BART at ``bart_checkpoint`` (its encoder's width, layers, heads,
    feed-forward width); the pooled embedding is as wide as the tokens."""
    sizes = checkpoints.read_config(bart_checkpoint)["config"]
    if sizes.get("max_text_tokens", bart.TranslatorConfig.max_text_tokens) < bart.TranslatorConfig.max_text_tokens:
        raise checkpoints.CheckpointError(f"{bart_checkpoint}: a BART that reads at most {sizes['max_text_tokens']} "
                                          "caption tokens does not fit this encoder; use one trained by this "
                                          "version of the course")
    return dataclasses.replace(config, text_width=sizes["d_model"], embed_dim=sizes["d_model"],
                               text_heads=sizes["heads"], text_layers=sizes["layers"], text_ffn=sizes["ffn_dim"])


def _as_imagen(preset: Preset, **change) -> Preset:
    return Preset(dataclasses.replace(preset.config, text="bart", **change), preset.training)


PRESETS = {
    "tiny": _as_imagen(glide.PRESETS["tiny"]),  # unit tests (the encoder keeps the shipped BART's sizes)
    "smoke": _as_imagen(glide.PRESETS["smoke"]),  # CI: seconds
    "workshop": _as_imagen(glide.PRESETS["workshop"]),  # a laptop: minutes
    # shipped: notebook 12's U-Net reading the frozen BART encoder; on the 2-core CPU (one thread) the
    # seconds run out first
    "full": Preset(GlideConfig(channels=(32, 64), attention=(False, True), text="bart"),
                   GlideTraining(lr=2e-3, batch_size=32, steps=20_000, seconds=2400, ema_decay=0.998)),
}


# Imagen here differs from GLIDE only in what reads the caption: it trains and is measured as GLIDE is
make_step, train, training_data, evaluate = glide.make_step, glide.train, glide.training_data, glide.evaluate


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


def threshold_study(model: glide.Glide, n: int = 200, scales: Sequence[float] = SCALES) -> dict[str, float]:
    """Caption accuracy of one sample per prompt on ``n`` seen and ``n`` held-out prompts of each kind, at
    each guidance scale, with x̂_0 clipped (``s{S}_clip_caption_acc_{seen,heldout}``) and dynamically
    thresholded (``s{S}_dynamic_...``); the kinds are averaged."""
    figures = {}
    for scale in scales:
        for way, dynamic in (("clip", False), ("dynamic", True)):
            for split, tag in eval_sets.SPLIT_TAGS.items():
                shares = [oracle.caption_accuracy(model.sample(prompts, scale=scale, dynamic=dynamic).cpu(), prompts)
                          for prompts in (eval_sets.prompts(n, split, kind) for kind in ("one", "two"))]
                figures[f"s{scale}_{way}_caption_acc_{tag}"] = sum(shares) / len(shares)
    return figures

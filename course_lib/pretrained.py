"""Real pretrained models, for online use (Colab): CLIP ViT-B/32 and BART-base.

The course's own models are small and trained on ShapesWorld; these are the real things the slides
talk about, to try where there is internet:

- **CLIP ViT-B/32** (open_clip, LAION-2B weights) scores real pictures against text, as in the
  slide's "sunset over a lake in the mountains — Score: 31.59";
- **BART-base** (``facebook/bart-base``) is BART as pre-trained: a denoiser that fills masked spans
  of text, the objective notebook 07 teaches.

Downloads go through the Hugging Face hub's cache (listed in ``downloads.HUB_MODELS``); without
internet, each loader raises ``downloads.OfflineError`` with one sentence. ``weights=False`` builds
the same architecture with random weights, which is how the tests check this code offline.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

from .downloads import hub_offline_error

CLIP_ARCHITECTURE, CLIP_WEIGHTS = "ViT-B-32", "laion2b_s34b_b79k"
BART_BASE = "facebook/bart-base"


@dataclasses.dataclass
class RealClip:
    model: torch.nn.Module
    preprocess: object  # PIL picture -> (3, 224, 224) tensor
    tokenizer: object  # list of str -> token ids (B, 77)


def load_clip_vit_b32(*, weights: bool = True, device: str | torch.device = "cpu") -> RealClip:
    """open_clip's ViT-B/32 with LAION-2B weights (or random weights with ``weights=False``)."""
    import open_clip

    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            CLIP_ARCHITECTURE, pretrained=CLIP_WEIGHTS if weights else None, device=device)
    except (RuntimeError, OSError) as error:
        if weights and ("download" in str(error).lower() or "connect" in str(error).lower()):
            raise hub_offline_error("clip-vit-b-32") from None
        raise
    return RealClip(model.eval(), preprocess, open_clip.get_tokenizer(CLIP_ARCHITECTURE))


@torch.no_grad()
def clip_scores(clip: RealClip, pictures: Sequence, prompts: Sequence[str]) -> torch.Tensor:
    """Relevance scores (pictures × prompts), 100 × cosine, for PIL pictures and text prompts."""
    device = next(clip.model.parameters()).device
    images = torch.stack([clip.preprocess(p) for p in pictures]).to(device)
    image_features = clip.model.encode_image(images, normalize=True)
    text_features = clip.model.encode_text(clip.tokenizer(list(prompts)).to(device), normalize=True)
    return 100 * image_features @ text_features.T


def bart_base_config():
    """The architecture of ``facebook/bart-base``, written out so it can be built offline."""
    from transformers import BartConfig

    return BartConfig(vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6,
                      encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
                      decoder_ffn_dim=3072, max_position_embeddings=1024, pad_token_id=1, bos_token_id=0,
                      eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2)


def load_bart_base(*, weights: bool = True):
    """(model, tokenizer) of ``facebook/bart-base``; with ``weights=False`` the model has random
    weights and the tokenizer is None (the tokenizer's vocabulary is a download too)."""
    from transformers import AutoTokenizer, BartForConditionalGeneration

    if not weights:
        return BartForConditionalGeneration(bart_base_config()).eval(), None
    try:
        model = BartForConditionalGeneration.from_pretrained(BART_BASE)
        tokenizer = AutoTokenizer.from_pretrained(BART_BASE)
    except OSError:
        raise hub_offline_error("bart-base") from None
    return model.eval(), tokenizer


@torch.no_grad()
def fill_mask(model, tokenizer, texts: Sequence[str], max_length: int = 40) -> list[str]:
    """BART's denoising at work: texts with ``<mask>`` spans -> the model's completed texts."""
    batch = tokenizer(list(texts), return_tensors="pt", padding=True)
    out = model.generate(**batch, max_length=max_length, num_beams=4)
    return tokenizer.batch_decode(out, skip_special_tokens=True)

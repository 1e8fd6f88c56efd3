"""Real pretrained models, for online use (Colab): CLIP ViT-B/32, BART-base and Dall·E Mini.

The course's own models are small and trained on ShapesWorld; these are the real things the slides
talk about, to try where there is internet:

- **CLIP ViT-B/32** (open_clip, LAION-2B weights) scores real pictures against text, as in the
  slide's "sunset over a lake in the mountains — Score: 31.59";
- **BART-base** (``facebook/bart-base``) is BART as pre-trained: a denoiser that fills masked spans
  of text, the objective notebook 07 teaches;
- **Dall·E Mini** itself (``load_real_dalle_mini`` / ``draw_real_dalle_mini``), through min-dalle,
  ranked by the real CLIP ViT-B/32 as notebook 09 ranks the course's pictures.

Downloads go through the Hugging Face hub's cache (listed in ``downloads.HUB_MODELS``); without
internet, each loader raises ``downloads.OfflineError`` with one sentence. ``weights=False`` builds
the same architecture with random weights, which is how the tests check this code offline.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Sequence

import torch

from .downloads import hub_offline_error, online

CLIP_ARCHITECTURE, CLIP_WEIGHTS = "ViT-B-32", "laion2b_s34b_b79k"
BART_BASE = "facebook/bart-base"


@dataclasses.dataclass
class RealClip:
    model: torch.nn.Module
    preprocess: object  # PIL picture -> (3, 224, 224) tensor
    tokenizer: object  # list of str -> token ids (B, 77)


def _require_internet(name: str) -> None:
    """Fail at once offline: the hub clients otherwise retry for half a minute before giving up."""
    if not online():
        raise hub_offline_error(name)


def load_clip_vit_b32(*, weights: bool = True, device: str | torch.device = "cpu") -> RealClip:
    """open_clip's ViT-B/32 with LAION-2B weights (or random weights with ``weights=False``)."""
    import open_clip

    if weights:
        _require_internet("clip-vit-b-32")
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
    _require_internet("bart-base")
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


# ---------------------------------------------------------------- the real Dall·E Mini (min-dalle)

REAL_IMAGE_TOKENS = 256  # Dall·E Mini writes a 16×16 grid of VQGAN f16 codes ...
REAL_CODEBOOK_SIZE = 16384  # ... from a codebook of 2**14 ...
REAL_RESOLUTION = 256  # ... which its VQGAN decodes to a 256×256 picture


def import_min_dalle():
    """Import ``min_dalle`` and undo what its import changes globally.

    Why min-dalle: it is the maintained PyTorch port of Dall·E Mini (kuprel/min-dalle, MIT), plain
    PyTorch modules in three short files (``DalleBartEncoder``, ``DalleBartDecoder``,
    ``VQGanDetokenizer``), with no JAX/flax, running the same weights as the original dalle-mini
    (converted from its flax checkpoints). The original needs JAX, flax and vqgan-jax, which clash
    with the course's PyTorch environment.

    Its import has global side effects (``min_dalle/min_dalle.py``, module level):
    ``torch.set_grad_enabled(False)``, ``torch.set_num_threads(os.cpu_count())`` and two cuDNN
    switches (``cudnn.enabled``, ``cudnn.allow_tf32``). All four are put back as they were right after
    the import, so importing it here changes nothing else in the notebook; the drawing functions turn
    gradients off themselves with ``torch.no_grad()``.
    """
    grad, threads = torch.is_grad_enabled(), torch.get_num_threads()
    cudnn = torch.backends.cudnn
    cudnn_enabled, tf32 = cudnn.enabled, cudnn.allow_tf32
    try:
        import min_dalle
    except ImportError:
        raise ImportError("the real Dall·E Mini needs the min-dalle package: pip install min-dalle "
                          "(or pip install 'course_lib[online]')") from None
    finally:
        torch.set_grad_enabled(grad)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        cudnn.enabled, cudnn.allow_tf32 = cudnn_enabled, tf32
    return min_dalle


def load_real_dalle_mini(*, mega: bool = False, device: str | torch.device | None = None,
                         models_root: str | None = None, dtype: torch.dtype = torch.float32):
    """min-dalle's ``MinDalle`` with Dall·E Mini's weights (``mega=True``: Dall·E Mega, ~2.6B parameters).

    ``MinDalle.__init__`` calls the network even when its files are cached, so the internet is checked
    first (``downloads.online``, which honours ``HF_HUB_OFFLINE=1``) and, without it,
    ``downloads.OfflineError`` is raised with one sentence. The weights are cached under the course's
    cache directory (``$COURSE_LIB_CACHE/min-dalle``); the first call downloads about 2 GB (mini).
    """
    from .downloads import cache_dir

    if not online():
        raise hub_offline_error("dalle-mini")
    min_dalle = import_min_dalle()
    from . import device as pick_device

    root = Path(models_root) if models_root is not None else cache_dir() / "min-dalle"
    root.mkdir(parents=True, exist_ok=True)
    try:
        with torch.no_grad():
            return min_dalle.MinDalle(models_root=str(root), dtype=dtype, is_mega=mega, is_reusable=True,
                                      device=str(device if device is not None else pick_device()),
                                      is_verbose=False)
    except OSError as error:  # requests' ConnectionError is an OSError
        raise hub_offline_error("dalle-mini") from error


@dataclasses.dataclass
class RealDrawing:
    """The real Dall·E Mini's pictures for one prompt, best first by real CLIP ViT-B/32."""

    prompt: str
    pictures: list  # PIL pictures, 256×256, best first
    scores: torch.Tensor  # (n,) CLIP ViT-B/32 relevance (100 × cosine), descending


def draw_real_dalle_mini(prompt: str, n: int = 4, *, seed: int = 1, model=None, clip: RealClip | None = None,
                         temperature: float = 1.0, top_k: int = 256, supercondition_factor: float = 16.0
                         ) -> RealDrawing:
    """Draw ``n`` pictures of ``prompt`` with the real Dall·E Mini and rank them with CLIP ViT-B/32.

    The same three steps as ``course_lib.dalle_mini.Pipeline.draw``: BART samples 256 image tokens per
    picture (with "super conditioning", min-dalle's name for classifier-free guidance), the VQGAN turns
    each 16×16 grid into a 256×256 picture, CLIP scores them and they come back best first. ``model``
    and ``clip`` default to freshly loaded ones (pass them to draw many prompts). min-dalle draws a
    square grid of pictures, so ``n`` is rounded up to a square and the extra pictures are dropped
    before ranking. min-dalle seeds torch only when ``seed > 0``.
    """
    from PIL import Image

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of pictures must be a positive integer, got {n!r}")
    model = model if model is not None else load_real_dalle_mini()
    clip = clip if clip is not None else load_clip_vit_b32(device=model.device)
    grid_size = math.ceil(math.sqrt(n))
    with torch.no_grad(), warnings.catch_warnings():
        # min-dalle wraps every step in torch.cuda.amp.autocast: deprecated, and a no-op off CUDA
        warnings.filterwarnings("ignore", message=".*autocast.*is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="CUDA is not available", category=UserWarning)
        images = model.generate_images(prompt, seed=seed, grid_size=grid_size, temperature=temperature,
                                       top_k=top_k, supercondition_factor=supercondition_factor)
    pictures = [Image.fromarray(image.to(torch.uint8).cpu().numpy()) for image in images[:n]]  # (256, 256, 3)
    scores = clip_scores(clip, pictures, [prompt])[:, 0].float().cpu()
    order = scores.argsort(descending=True)
    return RealDrawing(prompt, [pictures[i] for i in order], scores[order])

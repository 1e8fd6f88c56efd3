"""Where the course's downloads come from, and one clear sentence when the internet is not there.

The pretrained models of the Colab cells (``course_lib.pretrained``) come through the Hugging Face
hub's own cache, which checks what it downloads and makes no network call once a model is cached;
``HUB_MODELS`` lists them. Without internet, ``hub_offline_error`` is the one sentence that says what
to do. min-dalle's weights are cached in ``cache_dir()``: ``$COURSE_LIB_CACHE`` (default
``~/.cache/course_lib``).
"""
from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path


class OfflineError(ConnectionError):
    """A download that needs the internet, which is not there."""


# Pretrained models that come through the Hugging Face hub's own cache (which also makes no network
# call once a model is cached): name -> hub repository. ``course_lib.pretrained`` loads them.
HUB_MODELS: dict[str, str] = {
    "clip-vit-b-32": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",  # open_clip ViT-B-32, tag laion2b_s34b_b79k
    "bart-base": "facebook/bart-base",
    "dalle-mini": "kuprel/min-dalle",  # Dall·E Mini's weights as PyTorch state dicts, for min-dalle
}


def cache_dir() -> Path:
    return Path(os.environ.get("COURSE_LIB_CACHE", "~/.cache/course_lib")).expanduser()


def hub_offline_error(name: str) -> OfflineError:
    """The one sentence for a hub model that cannot be fetched."""
    return OfflineError(f"{name} needs pretrained weights from the Hugging Face hub ({HUB_MODELS[name]}), "
                        "which cannot be reached from here; run this cell on Colab or another machine "
                        "with internet (the rest of the course works offline)")


def online(timeout: float = 3.0, url: str = "https://huggingface.co") -> bool:
    """Whether the internet (the model hub) answers; a network call, so only when asked for."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        urllib.request.urlopen(url, timeout=timeout).close()
        return True
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
        return False

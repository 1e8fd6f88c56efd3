"""One registry for everything the course downloads, with a cache and a clear offline message.

Every file fetched from the internet is listed here by name, with its address and SHA-256 (after
openai/CLIP's ``_MODELS`` and d2l's ``DATA_HUB``). ``fetch(name)`` returns the cached copy without
touching the network when it is there and intact; otherwise it downloads to a temporary file,
checks the hash and renames it into place, so a broken download never looks like a good one.
Without internet it raises ``OfflineError`` with one sentence that says what to do.

The cache lives in ``$COURSE_LIB_CACHE`` (default ``~/.cache/course_lib``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path


class OfflineError(ConnectionError):
    """A download that needs the internet, which is not there."""


class ChecksumError(RuntimeError):
    """A downloaded file whose SHA-256 is not the registered one."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """A file the course may download: where from, and the SHA-256 it must have."""

    url: str
    sha256: str
    filename: str
    about: str = ""


REGISTRY: dict[str, Resource] = {}

# Pretrained models that come through the Hugging Face hub's own cache (which also makes no network
# call once a model is cached): name -> hub repository. ``course_lib.pretrained`` loads them.
HUB_MODELS: dict[str, str] = {
    "clip-vit-b-32": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",  # open_clip ViT-B-32, tag laion2b_s34b_b79k
    "bart-base": "facebook/bart-base",
    "dalle-mini": "kuprel/min-dalle",  # Dall·E Mini's weights as PyTorch state dicts, for min-dalle
}


def register(name: str, resource: Resource) -> None:
    """Add ``resource`` to the registry under ``name`` (a name can be registered once)."""
    if name in REGISTRY and REGISTRY[name] != resource:
        raise ValueError(f"{name!r} is already registered with another address")
    REGISTRY[name] = resource


def cache_dir() -> Path:
    return Path(os.environ.get("COURSE_LIB_CACHE", "~/.cache/course_lib")).expanduser()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_path(name: str) -> Path:
    if name not in REGISTRY:
        raise KeyError(f"nothing named {name!r} is registered; known: {', '.join(sorted(REGISTRY)) or 'none'}")
    return cache_dir() / name / REGISTRY[name].filename


def fetch(name: str) -> Path:
    """The local path of registered file ``name``, downloading it only if it is not cached intact."""
    resource = REGISTRY.get(name)
    path = cached_path(name)
    if path.exists() and _sha256(path) == resource.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(resource.url, timeout=30) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        got = _sha256(tmp)
        if got != resource.sha256:
            raise ChecksumError(f"{resource.url} gave a file with SHA-256 {got}, expected {resource.sha256}; "
                                "the download was damaged or the file changed upstream")
        os.replace(tmp, path)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise OfflineError(f"{name} needs a download from {resource.url} and there is no internet "
                           f"here ({getattr(error, 'reason', error)}); run this cell on Colab or "
                           "online, the rest of the course works offline") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


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

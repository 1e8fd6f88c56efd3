"""course_lib: the library behind the text-to-image course notebooks.

Importing it is fast and changes no global state: submodules (``course_lib.shapes``,
``course_lib.oracle``, ...) load on first use, and torch is imported only when needed.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

__version__ = "0.1.0"

MODES = ("smoke", "workshop", "full")


def mode() -> str:
    """The training budget in force: ``COURSE_MODE`` (smoke / workshop / full), workshop by default."""
    value = os.environ.get("COURSE_MODE", "workshop").strip().lower()
    if value not in MODES:
        raise ValueError(f"COURSE_MODE={value!r} is not a mode; use one of: {', '.join(MODES)}")
    return value


def device_of(module):
    """The device a model's weights are on: where its inputs and any noise it is fed must go."""
    return next(module.parameters()).device


def device(prefer: str | None = None):
    """The torch device to use: CUDA when present, else CPU. ``prefer="cpu"`` forces the CPU;
    ``prefer="cuda"`` without a GPU raises a clear error.

    ``COURSE_DEVICE`` (e.g. ``cpu`` on a GPU runtime, to compare) sets the choice for every notebook
    and command that does not say ``prefer``. The tests set it to ``meta`` (tensors with shapes and
    no values) to run the notebooks with their models away from the CPU, where a tensor left behind
    fails as it would on a GPU (tests/test_devices.py)."""
    import torch

    chosen = prefer or os.environ.get("COURSE_DEVICE", "").strip() or None
    if chosen is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        picked = torch.device(chosen)
    except RuntimeError:
        raise ValueError(f"{chosen!r} is not a torch device (COURSE_DEVICE or prefer): use cpu or cuda") from None
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("no CUDA GPU is available here; run on the CPU (device('cpu'), or --device cpu "
                           "on the command line), or on Colab choose Runtime > Change runtime type > GPU")
    return picked


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's random generators, for repeatable runs."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def __getattr__(name: str):
    """``course_lib.shapes`` and friends import their module on first use."""
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")

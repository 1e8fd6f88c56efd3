"""The environment doctor: what this machine has, what the course will use, and what is wrong.

``python -m course_lib doctor`` (or ``course_lib.doctor.report()`` in a notebook's setup cell) prints
the versions that matter, the device, whether the shipped checkpoints are present and intact, and a
plain-language warning for each known problem. It touches the network only with ``online=True``.
"""
from __future__ import annotations

import importlib.metadata
import platform
import sys

from . import checkpoints

PACKAGES = ("torch", "torchvision", "transformers", "open_clip_torch", "diffusers", "safetensors", "matplotlib",
            "ipywidgets", "tqdm")
MIN_PYTHON = (3, 10)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def checks(online: bool = False) -> tuple[list[str], list[str]]:
    """(lines of facts, lines of warnings) about this environment."""
    facts, warnings = [f"Python {platform.python_version()} ({sys.executable})"], []
    if sys.version_info < MIN_PYTHON:
        warnings.append(f"Python {platform.python_version()} is too old: the course needs "
                        f"{'.'.join(map(str, MIN_PYTHON))} or newer")
    for package in PACKAGES:
        version = _version(package)
        facts.append(f"{package} {version or 'MISSING'}")
        if version is None:
            warnings.append(f"{package} is not installed: run `make setup` (or pip install -e '.[lab]')")

    from . import device

    try:
        dev = device()
        facts.append(f"device: {dev}" + (" (no GPU: training uses the CPU, which the workshop mode is "
                                          "sized for)" if dev.type == "cpu" else ""))
    except ImportError:
        warnings.append("torch cannot be imported: run `make setup`")

    from . import mode

    try:
        facts.append(f"mode: {mode()} (set COURSE_MODE to smoke / workshop / full)")
    except ValueError as error:
        warnings.append(str(error))

    names = sorted(p.stem for p in checkpoints.DATA_DIR.glob("*.safetensors"))
    facts.append(f"shipped checkpoints in {checkpoints.DATA_DIR}: {', '.join(names) or 'none'}")
    for name in names:
        try:
            checkpoints.verify(checkpoints.shipped(name))
        except checkpoints.CheckpointError as error:
            warnings.append(str(error))

    if online:
        from .downloads import online as is_online

        reachable = is_online()
        facts.append("internet: " + ("the model hub answers; the online cells can run" if reachable
                                     else "no answer from the model hub; online cells will say so and skip"))
    else:
        facts.append("internet: not checked (python -m course_lib doctor --online checks it)")
    return facts, warnings


def report(online: bool = False) -> bool:
    """Print the facts and warnings; return True when nothing is wrong."""
    facts, warnings = checks(online)
    print("course_lib doctor")
    for line in facts:
        print("  " + line)
    for line in warnings:
        print("  WARNING: " + line)
    print("  all good" if not warnings else f"  {len(warnings)} problem(s) found")
    return not warnings

"""Ablations: the measured answers to "what does this ingredient buy?", shipped beside the checkpoints.

A notebook that says "the discriminator makes the tokens sharper" or "the wrong pair teaches D to read
the caption" must show the experiment that says so. Each such experiment is run by a script in
``benchmarks/`` (same start, same budget, one ingredient switched) and its figures are written here,
to ``course_lib/data/ablation_NAME.json``, so a notebook can print them on any install, Colab
included, without re-running minutes of training; an exercise then re-runs one arm live.

A record is plain JSON::

    {"name": "vqgan", "question": "what do the discriminator and the perceptual loss add?",
     "arms": {"recipe": {"sharpness": 0.61, ...}, "disc_weight=0": {...}},
     "budget": {"steps": 400, ...}, "measured": {"machine": "...", "date": "...", "seconds": 812.0}}
"""
from __future__ import annotations

import datetime
import json
import math
import platform
from pathlib import Path

import torch

from .paths import DATA_DIR


class AblationError(RuntimeError):
    """An ablation record that cannot be used; the message says what to do."""


def path(name: str, folder: str | Path = DATA_DIR) -> Path:
    return Path(folder) / f"ablation_{name}.json"


def machine() -> str:
    """The machine an ablation ran on, as a record names it (CPU or GPU, core count, torch)."""
    where = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    return f"{platform.machine()} {where}, torch {torch.__version__}"


def save(name: str, question: str, arms: dict[str, dict[str, float]], budget: dict, seconds: float,
         folder: str | Path = DATA_DIR) -> Path:
    """Write one ablation's figures: ``arms`` maps each arm's name to its measured figures."""
    if not arms:
        raise AblationError(f"ablation {name!r} has no arms: measure at least two before saving")
    record = {"name": name, "question": question, "arms": arms, "budget": budget,
              "measured": {"machine": machine(), "seconds": round(seconds, 1),
                           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}}
    target = path(name, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=1) + "\n")
    return target


def load(name: str, folder: str | Path = DATA_DIR) -> dict:
    """The shipped record of ablation ``name``; a clear error if it is missing or unreadable."""
    source = path(name, folder)
    if not source.exists():
        shipped = sorted(p.stem.removeprefix("ablation_") for p in Path(folder).glob("ablation_*.json"))
        raise AblationError(f"no ablation {name!r} in {folder} (shipped: {', '.join(shipped) or 'none'}); "
                            f"run its script in benchmarks/ to measure it")
    try:
        record = json.loads(source.read_text())
        record["arms"], record["measured"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise AblationError(f"{source} is not an ablation record ({error}); re-run its script in benchmarks/") from None
    return record


def _decimals(column: list[float]) -> int:
    """Decimals that show a column's largest value to 3 significant digits (at least 3): a sharpness
    of 0.0097 must not print as 0.010 beside 0.008."""
    largest = max((abs(v) for v in column), default=0.0)
    return 3 if largest == 0 else max(3, 2 - math.floor(math.log10(largest)))


def table(record: dict, figures: list[str] | None = None) -> str:
    """The record as a text table, one row per arm, for a notebook to print."""
    arms = record["arms"]
    figures = figures or list(next(iter(arms.values())))
    width = max(len(arm) for arm in arms) + 2
    decimals = {f: _decimals([values[f] for values in arms.values()]) for f in figures}
    lines = [" " * width + "".join(f"{f:>16s}" for f in figures)]
    for arm, values in arms.items():
        lines.append(f"{arm:<{width}s}" + "".join(f"{values[f]:16.{decimals[f]}f}" for f in figures))
    m = record["measured"]
    lines.append(f"({m['machine']}, {m['date'][:10]}, {m['seconds']:.0f} s)")
    return "\n".join(lines)

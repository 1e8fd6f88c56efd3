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


def _cells(record: dict, figures: list[str] | None) -> tuple[list[str], dict[str, list[str]]]:
    """The figures shown (all the first arm has, unless named) and each arm's values as text."""
    arms = record["arms"]
    figures = figures or list(next(iter(arms.values())))
    decimals = {f: _decimals([values[f] for values in arms.values()]) for f in figures}
    return figures, {arm: [f"{values[f]:.{decimals[f]}f}" for f in figures] for arm, values in arms.items()}


def _measured(record: dict) -> str:
    m = record["measured"]
    return f"{m['machine']}, {m['date'][:10]}, {m['seconds']:.0f} s"


def table(record: dict, figures: list[str] | None = None) -> str:
    """The record as a text table, one row per arm, for a notebook to print."""
    figures, rows = _cells(record, figures)
    width = max(len(arm) for arm in rows) + 2
    columns = [max(16, len(f) + 2) for f in figures]  # a long figure name keeps a space before it
    lines = [" " * width + "".join(f"{f:>{c}s}" for f, c in zip(figures, columns))]
    for arm, cells in rows.items():
        lines.append(f"{arm:<{width}s}" + "".join(f"{v:>{c}s}" for v, c in zip(cells, columns)))
    lines.append(f"({_measured(record)})")
    return "\n".join(lines)


def markdown(record: dict, figures: list[str] | None = None) -> str:
    """The record as a Markdown table, the same figures as ``table``, for benchmarks/README.md."""
    figures, rows = _cells(record, figures)
    lines = ["| arm | " + " | ".join(f"`{f}`" for f in figures) + " |", "| --- |" + " ---: |" * len(figures)]
    lines += [f"| {arm} | " + " | ".join(cells) + " |" for arm, cells in rows.items()]
    return "\n".join(lines + ["", f"Measured on {_measured(record)}."])

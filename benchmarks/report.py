"""The results file (``results/<device>.json``) and the Markdown table in ``benchmarks/README.md``.

The JSON maps stage -> metric -> number, plus ``notebook_seconds`` -> {notebook: seconds} and ``meta``
(machine, library versions, and when and with which budget each stage was last measured). A run
that measures some stages keeps the others' earlier figures. The README's table is rebuilt from every
results file, one column per device, between two marker lines; the text around it is left alone.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import torch

START, END = "<!-- results: start -->", "<!-- results: end -->"
NOTEBOOKS, META = "notebook_seconds", "meta"


def machine(device: torch.device) -> str:
    """The machine in words: CPU model and cores, or the GPU's name."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({os.cpu_count()} CPU cores)"
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores visible, {torch.get_num_threads()} torch threads"


def _number(value) -> float | int:
    """A JSON-friendly number: ints stay ints, floats keep 6 significant digits."""
    if isinstance(value, (bool, int)):
        return int(value)
    return float(f"{float(value):.6g}")


def write_results(path: Path, device: torch.device, stages: dict[str, dict[str, float]],
                  notebook_seconds: dict[str, float], budget: str) -> dict:
    """Merge this run's figures into ``path`` (created if missing) and return the whole record."""
    record = json.loads(path.read_text()) if path.exists() else {}
    now = datetime.datetime.now().isoformat(timespec="seconds")
    meta = record.setdefault(META, {})
    meta.update({"device": device.type, "machine": machine(device), "torch": torch.__version__,
                 "python": platform.python_version(), "date": now})
    measured = meta.setdefault("measured", {})
    for stage, figures in stages.items():
        record[stage] = {name: _number(value) for name, value in figures.items()}
        measured[stage] = f"{now} ({budget})"
    if notebook_seconds:
        record.setdefault(NOTEBOOKS, {}).update({k: _number(v) for k, v in notebook_seconds.items()})
        measured.update({f"notebook {k}": f"{now} (workshop mode)" for k in notebook_seconds})  # each its own date
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def table(results_dir: Path) -> str:
    """Markdown: when and where each device's figures were measured, then one table of every stage's
    metrics and one of the notebooks' times, a column per device."""
    records = {p.stem: json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*.json"))}
    if not records:
        return "No results yet: run `python -m benchmarks.run --stage all --device cpu`."
    devices = list(records)
    lines = [f"- **{d}**: {r[META]['machine']}; torch {r[META]['torch']}; last run {r[META]['date']}"
             for d, r in records.items()]
    header = ["", "| stage | metric | " + " | ".join(devices) + " |", "| --- | --- |" + " ---: |" * len(devices)]
    lines += header
    stage_names = sorted({s for r in records.values() for s in r if s not in (META, NOTEBOOKS)}, key=_stage_order)
    for stage in stage_names:
        metrics = list(dict.fromkeys(m for r in records.values() for m in r.get(stage, {})))  # as measured
        for metric in metrics:
            cells = [_cell(records[d].get(stage, {}).get(metric)) for d in devices]
            lines.append(f"| {stage} | {metric} | " + " | ".join(cells) + " |")
    notebooks = sorted({n for r in records.values() for n in r.get(NOTEBOOKS, {})})
    if notebooks:
        lines += ["", "Notebooks, workshop mode, wall seconds of a headless run from a clean kernel:", "",
                  "| notebook | " + " | ".join(devices) + " |", "| --- |" + " ---: |" * len(devices)]
        lines += [f"| {n} | " + " | ".join(_cell(records[d].get(NOTEBOOKS, {}).get(n)) for d in devices) + " |"
                  for n in notebooks]
    measured = [f"{d} {s}: {when}" for d, r in records.items() for s, when in sorted(r[META].get("measured", {}).items())]
    lines += ["", "<details><summary>when each figure was measured (budget)</summary>", "",
              *[f"- {m}" for m in measured], "", "</details>"]
    return "\n".join(lines)


def _stage_order(stage: str) -> tuple[int, str]:
    """Course order (the order of ``stages.STAGES``, then the VQ comparison), unknown stages last."""
    from .stages import STAGES

    order = [*STAGES, "vq_peer"]
    return (order.index(stage) if stage in order else len(order), stage)


def update_readme(readme: Path, results_dir: Path) -> None:
    """Replace the table between the marker lines of ``readme`` (a new file gets just the markers)."""
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{START}\n{table(results_dir)}\n{END}{tail}")

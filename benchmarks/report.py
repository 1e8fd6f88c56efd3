"""The results file (``results/<device>.json``) and the Markdown table in ``benchmarks/README.md``.

The JSON maps stage -> metric -> number, plus ``notebook_seconds`` -> {notebook: seconds} and ``meta``
(machine, library versions, and when and with which budget each stage was last measured). A run
that measures some stages keeps the others' earlier figures. The README's table is rebuilt from every
results file, one column per device, between two marker lines; the text around it is left alone.

The leaderboard (``python -m benchmarks.leaderboard``, ``course_lib/data/leaderboard.json``) likewise, between
its own markers. The README's ablation section is rebuilt the same way, between its own markers, from the shipped
ablation records (``course_lib/data/ablation_*.json``, ``course_lib.ablations``), so its tables are
the figures the notebooks print, never typed. ``python -m benchmarks.report`` rebuilds all three sections
from the files on disk without measuring anything (after an ablation script has written its record).
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch

from course_lib import ablations, leaderboard
from course_lib.paths import DATA_DIR

START, END = "<!-- results: start -->", "<!-- results: end -->"
ABLATIONS_START, ABLATIONS_END = "<!-- ablations: start -->", "<!-- ablations: end -->"
LEADERBOARD_START, LEADERBOARD_END = "<!-- leaderboard: start -->", "<!-- leaderboard: end -->"
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
    measured = meta.setdefault("measured", {})  # each figure's own date and machine: a run measures only some
    for stage, figures in stages.items():
        record[stage] = {name: _number(value) for name, value in figures.items()}
        measured[stage] = f"{now} ({budget}; {meta['machine']})"
    if notebook_seconds:
        record.setdefault(NOTEBOOKS, {}).update({k: _number(v) for k, v in notebook_seconds.items()})
        measured.update({f"notebook {k}": f"{now} (workshop mode; {meta['machine']})" for k in notebook_seconds})
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
    lines = [f"- **{d}**: last run {r[META]['date']} on {r[META]['machine']}, torch {r[META]['torch']} (the list "
             "at the end gives each figure's own date and machine)"
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


def _budget(budget: dict) -> str:
    """An ablation's budget in one line: ``steps 473; seeds [0, 1]; arms: recipe = the full preset; ...``."""
    def value(v) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k} {value(x)}" for k, x in v.items())
        return str(v)

    return "; ".join(f"{key}: " + ("; ".join(f"{k} = {value(v)}" for k, v in item.items())
                                    if isinstance(item, dict) else value(item)) for key, item in budget.items())


def ablation_section(data_dir: Path = DATA_DIR) -> str:
    """Markdown: each shipped ablation record, its question, its table, its budget and its script."""
    names = sorted(p.stem.removeprefix("ablation_") for p in Path(data_dir).glob("ablation_*.json"))
    if not names:
        return "No ablation records yet: run a `benchmarks/ablation_*.py` script."
    parts = []
    for name in names:
        record = ablations.load(name, data_dir)
        parts += [f"### {name}: {record['question']}", "",
                  f"`python -m benchmarks.ablation_{name}` → `course_lib/data/ablation_{name}.json`", "",
                  ablations.markdown(record), "", f"Budget: {_budget(record.get('budget', {}))}.", ""]
    return "\n".join(parts).rstrip("\n")


def _replace_between(text: str, start: str, end: str, body: str) -> str:
    """``text`` with what lies between the two marker lines replaced (both appended if missing)."""
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def write_leaderboard(readme: Path, record: dict) -> None:
    """Replace the leaderboard between its marker lines of ``readme`` by ``record``'s table."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    readme.write_text(_replace_between(text, LEADERBOARD_START, LEADERBOARD_END, leaderboard.markdown(record)))


def update_readme(readme: Path, results_dir: Path, data_dir: Path = DATA_DIR) -> None:
    """Replace the results table, the ablation section and (when ``data_dir`` has its record) the
    leaderboard between their marker lines of ``readme`` (a new file gets just the markers and what goes
    between them)."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    text = _replace_between(text, START, END, table(results_dir))
    readme.write_text(_replace_between(text, ABLATIONS_START, ABLATIONS_END, ablation_section(data_dir)))
    if (data_dir / leaderboard.RECORD.name).exists():
        write_leaderboard(readme, leaderboard.load(data_dir / leaderboard.RECORD.name))


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report [README]``: rebuild the README's sections from the files on disk."""
    here = Path(__file__).resolve().parent
    readme = Path(argv[0]) if argv else here / "README.md"
    update_readme(readme, here / "results")
    print(f"rebuilt the results table and the ablation section of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

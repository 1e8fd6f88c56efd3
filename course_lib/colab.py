"""What goes at the top of every notebook: the "Open in Colab" badge, the time it takes, the setup cell.

A Colab user opens one notebook alone from its badge, so its first code cell must install
``course_lib`` (the shipped checkpoints and the tokenizer come with it, as package data) before
anything imports it. That cell is therefore plain, self-contained Python: ``subprocess`` runs pip
(``!pip`` is not Python), it acts only when ``google.colab`` is loaded, and off Colab it does
nothing. ``course_lib.device()`` then picks the GPU by itself; the cell only says which one there is.

``REPOSITORY`` is the one place that names where the course lives.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from .student import dumps

REPOSITORY = "https://github.com/text2image-course/course-kit"  # set once the repository is published
BRANCH = "main"
SETUP_MARKER = "# Setup: on Colab, install course_lib"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# the fixed form of a notebook's time statement, in its first markdown cell (figures from benchmarks/)
TIME_LINE = re.compile(r"^\*\*Time:\*\* about (\d+) min on a 2-core CPU.*\(workshop mode\)", re.MULTILINE)

SETUP_SOURCE = f'''{SETUP_MARKER} (checkpoints included) and report the GPU; elsewhere this does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{REPOSITORY}@{BRANCH}"], check=True)
    import torch

    print("GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available()
          else "none (Runtime > Change runtime type > GPU makes training faster)")'''


def colab_url(notebook: str) -> str:
    """Where Colab opens ``notebooks/<notebook>`` of the repository."""
    return f"https://colab.research.google.com/github/{REPOSITORY.removeprefix('https://github.com/')}" \
           f"/blob/{BRANCH}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    """The badge's markdown for ``notebook`` (a file name such as ``00_shapes_world.ipynb``)."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook)})"


def stated_cpu_minutes(nb) -> int | None:
    """The minutes a notebook says it takes on a 2-core CPU, or None when it does not say."""
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    match = TIME_LINE.search(first.source) if first is not None else None
    return int(match.group(1)) if match else None


def add_colab_cells(nb, notebook: str):
    """Put the badge under the title of the first markdown cell and the setup cell first among the
    code cells (idempotent: an older badge or setup cell is replaced, not repeated)."""
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    lines = [line for line in first_md.source.split("\n") if BADGE_IMAGE not in line]
    title = 1 if lines and lines[0].startswith("#") else 0
    first_md.source = "\n".join(lines[:title] + ["", badge(notebook)] + lines[title:]).replace("\n\n\n", "\n\n")
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    if first_code < len(nb.cells) and nb.cells[first_code].source.startswith(SETUP_MARKER):
        nb.cells[first_code].source = SETUP_SOURCE
    else:
        cell = nbformat.v4.new_code_cell(SETUP_SOURCE)
        cell.id = "colab-setup"
        nb.cells.insert(first_code, cell)
    return nb


def add_to_all(notebooks_dir: str | Path) -> list[Path]:
    """Apply ``add_colab_cells`` to every notebook in ``notebooks_dir``; return those that changed."""
    changed = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        before = path.read_text(encoding="utf-8")
        nb = add_colab_cells(nbformat.reads(before, as_version=4), path.name)
        after = dumps(nb)
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed

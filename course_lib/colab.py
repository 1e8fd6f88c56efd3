"""What goes at the top of every notebook: the "Open in Colab" badge, the time it takes, the setup cell.

A Colab user opens one notebook alone from its badge, so its first code cell must install
``course_lib`` (the shipped checkpoints and the tokenizer come with it, as package data) before
anything imports it. That cell is therefore plain, self-contained Python: ``subprocess`` runs pip
(``!pip`` is not Python), it acts only when ``google.colab`` is loaded, and off Colab it does
nothing. ``course_lib.device()`` then picks the GPU by itself; the cell only says which one there is.

``REPOSITORY`` and ``REF`` are the one place that names where the course lives and which release
the setup cells install; ``python -m course_lib colab-cells --repository URL --ref TAG`` rewrites
every badge and setup cell for another place or release (``--student-folder student`` adds a badge
for the student edition, committed in that folder of the same repository at the same release).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from . import __version__
from .student import dumps

REPOSITORY = "https://github.com/text2image-course/course-kit"  # set once the repository is published
REF = f"v{__version__}"  # the release tag the setup cell installs: a fixed version, never a moving branch
SETUP_MARKER = "# Setup: on Colab, install course_lib"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# the fixed form of a notebook's time statement, in its first markdown cell (figures from benchmarks/)
TIME_LINE = re.compile(r"^\*\*Time:\*\* about (\d+) min on a 2-core CPU.*\(workshop mode\)", re.MULTILINE)


def setup_source(repository: str = REPOSITORY, ref: str = REF) -> str:
    """The setup cell: on Colab, install the package at ``ref`` (core dependencies only: Colab has its
    own Jupyter front end and widget manager, so the ``lab`` extra stays out), choose the mode, and
    say which GPU there is."""
    return f'''{SETUP_MARKER} (checkpoints included) and report the GPU; elsewhere this does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{repository}@{ref}"], check=True)
    import os
    import torch

    os.environ.setdefault("COURSE_MODE", "workshop")  # smoke (seconds), workshop (minutes) or full
    print("GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available()
          else "none (Runtime > Change runtime type > GPU makes training faster)")'''


SETUP_SOURCE = setup_source()


STUDENT_LABEL = "Open the student edition In Colab"  # the second badge's alt text, found again by ``student``


def colab_url(notebook: str, repository: str = REPOSITORY, ref: str = REF, folder: str = "notebooks") -> str:
    """Where Colab opens ``<folder>/<notebook>`` of the repository at ``ref``."""
    return f"https://colab.research.google.com/github/{repository.removeprefix('https://github.com/')}" \
           f"/blob/{ref}/{folder}/{notebook}"


def badge(notebook: str, repository: str = REPOSITORY, ref: str = REF, student_folder: str | None = None) -> str:
    """The badge's markdown for ``notebook`` (a file name such as ``00_shapes_world.ipynb``); with
    ``student_folder`` (where the student edition is committed in the same repository, e.g. ``student``),
    a second badge beside it opens that edition, which the student edition keeps as its own badge."""
    line = f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook, repository, ref)})"
    if student_folder:
        line += f" [![{STUDENT_LABEL}]({BADGE_IMAGE})]({colab_url(notebook, repository, ref, student_folder)})"
    return line


def student_badge(line: str) -> str:
    """The student edition's badge of a badge line, or '' when the line has none."""
    found = re.search(rf"\[!\[{STUDENT_LABEL}\]\([^)]*\)\]\([^)]*\)", line)
    return found.group(0) if found else ""


def stated_cpu_minutes(nb) -> int | None:
    """The minutes a notebook says it takes on a 2-core CPU, or None when it does not say."""
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    match = TIME_LINE.search(first.source) if first is not None else None
    return int(match.group(1)) if match else None


def add_colab_cells(nb, notebook: str, repository: str = REPOSITORY, ref: str = REF, student_folder: str | None = None):
    """Put the badge (two with ``student_folder``, see ``badge``) under the title of the first markdown
    cell and the setup cell first among the code cells, both for ``repository`` at ``ref``
    (idempotent: an older badge or setup cell is replaced, not repeated)."""
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    lines = [line for line in first_md.source.split("\n") if BADGE_IMAGE not in line]
    title = 1 if lines and lines[0].startswith("#") else 0
    first_md.source = "\n".join(lines[:title] + ["", badge(notebook, repository, ref, student_folder)]
                                + lines[title:]).replace("\n\n\n", "\n\n")
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    source = setup_source(repository, ref)
    if first_code < len(nb.cells) and nb.cells[first_code].source.startswith(SETUP_MARKER):
        nb.cells[first_code].source = source
    else:
        cell = nbformat.v4.new_code_cell(source)
        cell.id = "colab-setup"
        nb.cells.insert(first_code, cell)
    return nb


def add_to_all(notebooks_dir: str | Path, repository: str = REPOSITORY, ref: str = REF,
               student_folder: str | None = None) -> list[Path]:
    """Apply ``add_colab_cells`` to every notebook in ``notebooks_dir``; return those that changed."""
    changed = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        before = path.read_text(encoding="utf-8")
        nb = add_colab_cells(nbformat.reads(before, as_version=4), path.name, repository, ref, student_folder)
        after = dumps(nb)
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed

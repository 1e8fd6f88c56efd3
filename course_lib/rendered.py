"""The rendered edition: every notebook executed from a clean kernel and written as HTML, outputs and
pictures included, for a learner who opens the course in a browser or a viewer.

The committed notebooks carry no outputs (tests/test_notebooks.py), so on the web they show code and
no pictures. ``build`` runs each one in a mode (``workshop`` for the published edition: the pictures
and figures a laptop makes) with ``kernels.execute``, the same runner the tests use, and renders it
with nbconvert's ``HTMLExporter`` (the JupyterLab template; pictures are embedded in the page, so one
HTML file per notebook is the whole lesson). Solutions stay, since the outputs come from them, as in
the notebooks the Colab badge opens; the instructor's hidden tests are removed. ``index.html`` lists
the lessons with the mode, the machine and how long each took to run.

``python -m course_lib site OUT --mode workshop`` (``make site``) builds it; CI renders the smoke
runs it already executes (``write_site``), so the builder cannot rot unseen.
"""
from __future__ import annotations

import datetime
import html
import platform
import time
from pathlib import Path

import nbformat

from . import kernels, student


def reading_copy(nb):
    """``nb`` (a new object) as the edition shows it: hidden tests removed, outputs kept."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = student.without_hidden_tests(cell.source)
    return nb


def title(nb, fallback: str) -> str:
    """The first heading of the notebook's first markdown cell, e.g. '06 · VQ-GAN: sharper tokens, ...'."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def render(nb, name: str) -> str:
    """One executed notebook as a self-contained HTML page."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        reading_copy(nb), resources={"metadata": {"name": title(nb, name)}})
    return body


def failures(nb) -> list[str]:
    """'cell N: Name: message' for each code cell whose outputs hold an error."""
    return [f"cell {i}: {out.ename}: {out.evalue}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def write_site(out_dir: str | Path, lessons: list[tuple[str, object, float]], mode: str) -> Path:
    """Write ``NAME.html`` for each (name, executed notebook, seconds it ran) and an ``index.html``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, nb, seconds in lessons:
        (out_dir / f"{name}.html").write_text(render(nb, name), encoding="utf-8")
        rows.append(f'<tr><td><a href="{name}.html">{html.escape(title(nb, name))}</a></td>'
                    f"<td>{seconds:.0f} s</td></tr>")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    index = out_dir / "index.html"
    index.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Text-to-image from first principles</title>"
        "</head><body>\n<h1>Text-to-image from first principles: the rendered edition</h1>\n"
        f"<p>Every notebook executed top to bottom from a clean kernel in <b>{mode}</b> mode on {when} "
        f"({where}); the time is each notebook's wall time there.</p>\n"
        "<table><tr><th>lesson</th><th>ran in</th></tr>\n" + "\n".join(rows) + "\n</table>\n</body></html>\n",
        encoding="utf-8")
    return index


def build(out_dir: str | Path, notebooks_dir: str | Path, mode: str = "workshop") -> Path:
    """Execute every notebook in ``notebooks_dir`` in ``mode`` and write the edition to ``out_dir``.

    A notebook that fails stops the build with ``nbclient``'s error naming its cell: an edition with a
    broken lesson is not published. Returns the path of ``index.html``."""
    paths = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks in {notebooks_dir}: pass the folder of the course's notebooks")
    lessons = []
    for path in paths:
        print(f"{path.stem}: running in {mode} mode ...", flush=True)
        start = time.perf_counter()
        nb = kernels.execute(nbformat.read(path, as_version=4), path.parent, mode=mode, name=path.name,
                             HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        lessons.append((path.stem, nb, time.perf_counter() - start))
        print(f"{path.stem}: {lessons[-1][2]:.0f} s", flush=True)
    return write_site(out_dir, lessons, mode)

"""Exercises in nbgrader's markup, and the student edition of the notebooks.

Every notebook ends with exercises. An exercise is a code cell whose solution sits between
nbgrader's markers, followed by a check cell::

    def count_colours(picture):          # the solution cell
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    assert checks.count_colours(count_colours), "see the hint above"   # the check cell
    ### BEGIN HIDDEN TESTS
    ...                                  # instructor-only: kept for grading, removed for students
    ### END HIDDEN TESTS

The markup is nbgrader's own, and ``mark_exercises`` adds the cell metadata nbgrader needs (a
solution cell, a locked grade cell worth one point, ids ``<notebook>-ex<k>`` and ``-ex<k>-check``),
so an instructor can run nbgrader on ``notebooks/`` unchanged. Without nbgrader, ``student_edition``
writes the notebooks with solutions replaced by ``raise NotImplementedError``, hidden tests
removed, outputs cleared and the Colab badge dropped (it points at the notebook *with* solutions;
a student-edition badge, ``colab-cells --student-folder``, is kept), byte for byte the same on every run.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "raise NotImplementedError  # your code here"
NBGRADER_SCHEMA = 3
NOTEBOOKS_DIR = Path("notebooks")  # the default instructor's notebooks: notebooks/ of the current folder (a checkout)
_BADGE = re.compile(r"^.*colab-badge\.svg.*\n?", re.MULTILINE)


def dumps(nb) -> str:
    """A notebook's text exactly as ``nbformat.write`` writes it (sorted keys, one final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def has_solution(cell) -> bool:
    return cell.cell_type == "code" and BEGIN_SOLUTION in cell.source


def _nbgrader(cell, key: str) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get(key))


def _is_solution(cell) -> bool:
    """A solution cell: it has the markers, or (in a student's copy, markers gone) nbgrader says so."""
    return has_solution(cell) or _nbgrader(cell, "solution")


def _is_check(cell) -> bool:
    return _nbgrader(cell, "grade") or (cell.cell_type == "code" and ("assert" in cell.source
                                                                        or "checks." in cell.source))


def exercises(nb) -> list[tuple[int, int | None]]:
    """(solution cell index, check cell index or None) for each exercise, in order. The check is
    the first code cell after the solution, before the next solution, that asserts or calls checks
    (or that nbgrader's metadata calls a grade cell)."""
    found = []
    solutions = [i for i, c in enumerate(nb.cells) if _is_solution(c)]
    for k, start in enumerate(solutions):
        stop = solutions[k + 1] if k + 1 < len(solutions) else len(nb.cells)
        check = next((i for i in range(start + 1, stop) if _is_check(nb.cells[i])), None)
        found.append((start, check))
    return found


def mark_exercises(nb, name: str):
    """Give every exercise's cells nbgrader's metadata (idempotent). ``name`` is the notebook's stem."""
    for k, (solution, check) in enumerate(exercises(nb), start=1):
        nb.cells[solution].metadata["nbgrader"] = {
            "grade": False, "grade_id": f"{name}-ex{k}", "locked": False,
            "schema_version": NBGRADER_SCHEMA, "solution": True, "task": False}
        if check is not None:
            nb.cells[check].metadata["nbgrader"] = {
                "grade": True, "grade_id": f"{name}-ex{k}-check", "locked": True, "points": 1,
                "schema_version": NBGRADER_SCHEMA, "solution": False, "task": False}
    return nb


def mark_all(notebooks_dir: str | Path) -> list[Path]:
    """Apply ``mark_exercises`` to every notebook in ``notebooks_dir``; return those that changed."""
    changed = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        before = path.read_text(encoding="utf-8")
        after = dumps(mark_exercises(nbformat.reads(before, as_version=4), path.stem))
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed


def check_ids(nb) -> dict[str, int]:
    """grade_id -> cell index of every check (grade) cell."""
    return {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(nb.cells)
            if c.metadata.get("nbgrader", {}).get("grade")}


def clear_solutions(source: str) -> str:
    """Replace each solution region (markers included) by the stub, at the BEGIN marker's indentation;
    code outside the markers stays. Remove hidden-test regions entirely."""
    return _strip(source, solutions=True)


def without_hidden_tests(source: str) -> str:
    """Remove the hidden-test regions only; solutions stay (the rendered edition, ``course_lib.rendered``)."""
    return _strip(source, solutions=False)


def _strip(source: str, solutions: bool) -> str:
    out, skipping = [], None
    for line in source.split("\n"):
        stripped = line.strip()
        if skipping is None and solutions and stripped == BEGIN_SOLUTION:
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
            skipping = END_SOLUTION
        elif skipping is None and stripped == BEGIN_HIDDEN:
            skipping = END_HIDDEN
        elif stripped == skipping:
            skipping = None
        elif skipping is None:
            out.append(line)
    if skipping is not None:
        raise ValueError(f"a region opened but never closed: expected {skipping!r}")
    return "\n".join(out).rstrip("\n")


def _own_badge(line: str) -> str:
    """A badge line as the student edition has it: only the badge that opens the student edition
    (``colab.badge`` with a student folder), or nothing: the instructor's badge opens the solutions."""
    from .colab import student_badge

    own = student_badge(line)
    return own + "\n" if own else ""


def to_student(nb, name: str):
    """The student version of one notebook (a new object; ``nb`` is not changed)."""
    nb = mark_exercises(nbformat.from_dict(nb), name)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = clear_solutions(cell.source)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = _BADGE.sub(lambda line: _own_badge(line.group(0)), cell.source)
        cell.metadata.pop("execution", None)
    return nb


def student_edition(out_dir: str | Path, notebooks_dir: str | Path) -> list[Path]:
    """Write the student version of every notebook in ``notebooks_dir`` to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        nb = to_student(nbformat.read(path, as_version=4), path.stem)
        target = out_dir / path.name
        target.write_text(dumps(nb), encoding="utf-8")
        written.append(target)
    return written

"""Grade a folder of submissions with the instructor's hidden tests: ``python -m course_lib grade DIR``.

The layout is nbgrader's, one level shorter: ``DIR/<student>/<notebook>.ipynb``. Each submission is
graded the way nbgrader's autograder does it, without nbgrader: every check cell is put back from
the instructor's notebook (so it holds the hidden tests the student edition left out, and a student
cannot have edited it), the notebook runs from a clean kernel in smoke mode with errors allowed,
and an exercise passes when its check cell ran without an error. The answer is a CSV of
``student, notebook, exercise, passed`` and one line per submission on screen.
"""
from __future__ import annotations

import csv
from pathlib import Path

import nbformat

from .kernels import execute
from .student import NOTEBOOKS_DIR, check_ids, exercises, mark_exercises

FIELDS = ("student", "notebook", "exercise", "passed")


class GradeError(ValueError):
    """Folders that cannot be graded; the message says what to give instead."""


def _ran_cleanly(cell) -> bool:
    return cell.get("execution_count") is not None and not any(o.output_type == "error" for o in cell.outputs)


def grade_notebook(submission: str | Path, source: str | Path, timeout: int = 600) -> dict[str, bool]:
    """exercise id (``<notebook>-ex<k>``) -> passed, for one submitted notebook."""
    submission, source = Path(submission), Path(source)
    reference = mark_exercises(nbformat.read(source, as_version=4), source.stem)
    nb = mark_exercises(nbformat.read(submission, as_version=4), source.stem)
    reference_checks, submitted_checks = check_ids(reference), check_ids(nb)
    for grade_id, index in submitted_checks.items():
        if grade_id in reference_checks:
            nb.cells[index].source = reference.cells[reference_checks[grade_id]].source
    execute(nb, submission.parent, mode="smoke", timeout=timeout, allow_errors=True, name=str(submission))
    results = {}
    for k in range(1, len(exercises(reference)) + 1):
        index = submitted_checks.get(f"{source.stem}-ex{k}-check")
        results[f"{source.stem}-ex{k}"] = index is not None and _ran_cleanly(nb.cells[index])
    return results


def _submissions(submissions_dir: Path, notebooks_dir: Path, csv_path: Path) -> list[Path]:
    """The notebooks to grade, checked before the first one runs (minutes each): a folder that is
    not there, or one with nothing to grade, is a ``GradeError`` now rather than a traceback later."""
    _folder(submissions_dir, "submissions folder", "give the folder that holds <student>/<notebook>.ipynb")
    submissions = sorted(submissions_dir.glob("*/*.ipynb"))
    if not submissions:  # what is wrong with the submissions is said first
        raise GradeError(f"{submissions_dir} holds no submissions; put each student's notebooks in a folder "
                         f"of their own: {submissions_dir}/<student>/<notebook>.ipynb")
    _folder(notebooks_dir, "notebooks folder", "give --notebooks the folder of the instructor's notebooks")
    _folder(csv_path.parent, "folder for the CSV", "give --csv a file in a folder that exists")
    return submissions


def _folder(folder: Path, what: str, instead: str) -> None:
    if not folder.is_dir():
        raise GradeError(f"the {what} {folder} {'is a file' if folder.exists() else 'does not exist'}; {instead}")


def grade_all(submissions_dir: str | Path, csv_path: str | Path | None = None,
              notebooks_dir: str | Path = NOTEBOOKS_DIR) -> list[dict]:
    """Grade every ``<student>/<notebook>.ipynb`` under ``submissions_dir`` and write the CSV
    (``grades.csv`` in ``submissions_dir`` unless ``csv_path`` says otherwise)."""
    submissions_dir, notebooks_dir = Path(submissions_dir), Path(notebooks_dir)
    csv_path = Path(csv_path) if csv_path else submissions_dir / "grades.csv"
    submissions = _submissions(submissions_dir, notebooks_dir, csv_path)
    rows = []
    for submission in submissions:
        source = notebooks_dir / submission.name
        student = submission.parent.name
        if not source.exists():
            print(f"{student}/{submission.name}: skipped, no notebook of that name in {notebooks_dir}")
            continue
        results = grade_notebook(submission, source)
        print(f"{student:>16}  {submission.stem}  " + "  ".join(
            f"{exercise.rsplit('-', 1)[1]} {'✓' if passed else '✗'}" for exercise, passed in results.items()))
        rows += [dict(student=student, notebook=submission.stem, exercise=exercise, passed=passed)
                 for exercise, passed in results.items()]
    with open(csv_path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {csv_path} ({len(rows)} results)")
    return rows

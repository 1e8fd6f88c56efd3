"""Grading a folder of submissions: a solved notebook passes every exercise, a stub fails, credit is
per exercise, and editing a check cell does not help (the instructor's check cells, with hidden
tests, are put back)."""
import csv
from pathlib import Path

import nbformat
import pytest

from course_lib import grade, student

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "00_shapes_world.ipynb"


@pytest.mark.notebook
def test_grade_two_submissions(tmp_path):
    solved = nbformat.read(SOURCE, as_version=4)
    stub = student.to_student(solved, SOURCE.stem)
    _solution, check = student.exercises(stub)[0]
    stub.cells[check].source = "print('all good')"  # a student's edited check cell
    second_solution, _ = student.exercises(stub)[1]
    stub.cells[second_solution].source = solved.cells[second_solution].source  # this student did exercise 2 only
    for name, nb in (("solved", student.to_student(solved, SOURCE.stem)), ("stub", stub)):
        (tmp_path / name).mkdir()
        if name == "solved":  # the student wrote the reference solutions into the student edition
            for solution, _check in student.exercises(nb):
                nb.cells[solution].source = solved.cells[solution].source
        nbformat.write(nb, tmp_path / name / SOURCE.name)
    rows = grade.grade_all(tmp_path, tmp_path / "grades.csv", ROOT / "notebooks")
    with open(tmp_path / "grades.csv", newline="") as file:
        written = list(csv.DictReader(file))
    assert [(r["student"], r["exercise"], r["passed"]) for r in written] == [
        ("solved", "00_shapes_world-ex1", "True"), ("solved", "00_shapes_world-ex2", "True"),
        ("stub", "00_shapes_world-ex1", "False"), ("stub", "00_shapes_world-ex2", "True")]
    assert len(rows) == 4

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
        ("solved", "00_shapes_world-ex3", "True"),
        ("stub", "00_shapes_world-ex1", "False"), ("stub", "00_shapes_world-ex2", "True"),
        ("stub", "00_shapes_world-ex3", "False")]
    assert len(rows) == 6


def test_folders_that_cannot_be_graded_are_refused_before_any_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(grade, "grade_notebook", lambda *args: pytest.fail("a notebook ran"))
    with pytest.raises(grade.GradeError, match="the submissions folder .* does not exist; give the folder"):
        grade.grade_all(tmp_path / "none")
    with pytest.raises(grade.GradeError, match="holds no submissions; put each student's notebooks"):
        grade.grade_all(tmp_path)
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / SOURCE.name).write_text("{}")
    with pytest.raises(grade.GradeError, match="the notebooks folder .* does not exist; give --notebooks"):
        grade.grade_all(tmp_path, notebooks_dir=tmp_path / "none")
    monkeypatch.chdir(tmp_path)  # the default is notebooks/ of the current folder, none here
    with pytest.raises(grade.GradeError, match="the notebooks folder notebooks does not exist; give --notebooks"):
        grade.grade_all(tmp_path)
    with pytest.raises(grade.GradeError, match="the folder for the CSV .* does not exist; give --csv a file"):
        grade.grade_all(tmp_path, tmp_path / "none" / "grades.csv", ROOT / "notebooks")
    assert not (tmp_path / "grades.csv").exists()

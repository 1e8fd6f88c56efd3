"""The student edition: solutions replaced, hidden tests gone, outputs cleared, the same bytes every
build; it runs up to its first exercise, whose check then fails with a hint. Exercise cells carry
nbgrader's metadata."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib import checks, student
from course_lib.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

SOURCE = """def f(x):
    y = 2
    ### BEGIN SOLUTION
    return x * y
    ### END SOLUTION
print("kept")
### BEGIN HIDDEN TESTS
assert f(1) == 2
### END HIDDEN TESTS"""


def test_clear_solutions_keeps_indentation_and_code_outside_the_markers():
    assert student.clear_solutions(SOURCE) == (
        "def f(x):\n    y = 2\n    raise NotImplementedError  # your code here\nprint(\"kept\")")


def test_an_unclosed_region_is_an_error():
    with pytest.raises(ValueError, match="END SOLUTION"):
        student.clear_solutions("### BEGIN SOLUTION\nx = 1")


def test_the_edition_builds_in_one_command_and_the_same_twice(tmp_path):
    for out in ("a", "b"):
        subprocess.run([sys.executable, "-m", "course_lib", "student-edition", str(tmp_path / out)], check=True,
                       capture_output=True, cwd=ROOT)  # the default: notebooks/ of the current folder
    built = sorted(p.name for p in (tmp_path / "a").glob("*.ipynb"))
    assert built == [p.name for p in NOTEBOOKS]
    for name in built:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_the_notebooks_are_those_of_the_current_folder_or_of_notebooks(tmp_path, monkeypatch, capsys):
    """Not a folder next to the package, which a plain pip install puts in site-packages."""
    monkeypatch.chdir(tmp_path)
    assert main(["student-edition", "out"]) == 2
    err = capsys.readouterr().err
    assert err == "error: notebooks/ here is no folder; pass --notebooks DIR, the folder of the course's notebooks\n"
    assert not (tmp_path / "out").exists()
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS[0], tmp_path / "notebooks")
    assert main(["student-edition", "out"]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == [NOTEBOOKS[0].name]
    assert main(["student-edition", "all", "--notebooks", str(ROOT / "notebooks")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [p.name for p in NOTEBOOKS]
    assert main(["student-edition", "none", "--notebooks", "out/nothing"]) == 2
    assert "error: --notebooks out/nothing is no folder; pass --notebooks DIR" in capsys.readouterr().err


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student.student_edition(out, ROOT / "notebooks")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_solutions_hidden_tests_outputs_or_badge(path, edition):
    text = (edition / path.name).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "colab-badge.svg"):
        assert marker not in text
    nb = nbformat.reads(text, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    solutions = [c for c in nbformat.read(path, as_version=4).cells if student.has_solution(c)]
    assert text.count("raise NotImplementedError  # your code here") == len(solutions)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_cells_carry_nbgrader_metadata(path):
    nb = nbformat.read(path, as_version=4)
    marked = student.mark_exercises(nbformat.read(path, as_version=4), path.stem)
    assert nb == marked, f"run `python -m course_lib mark-exercises` for {path.name}"
    for solution, check in student.exercises(nb):
        assert nb.cells[solution].metadata["nbgrader"]["solution"] is True
        assert check is not None and nb.cells[check].metadata["nbgrader"]["grade"] is True


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_up_to_the_first_exercise_whose_check_fails_with_a_hint(path, smoke_run):
    """The student edition, run in smoke mode (one execution shared with test_notebooks, see
    conftest.SmokeRun): no cell fails before the first exercise, whose check fails on the stub with
    the check's hint."""
    run = smoke_run(path)
    if run.solution is None:
        pytest.skip("no exercises")
    assert run.stub_check is not None, "the first exercise has no check cell"
    errors = run.errors(range(run.solution))
    assert not errors, f"cells fail before the first exercise: {errors}"
    check_outputs = run.nb.cells[run.stub_check].outputs
    assert any(o.output_type == "error" for o in check_outputs), "the check passed on the stub"
    assert "checks." in run.nb.cells[run.stub_check].source, "the first exercise's check calls no self-check"
    assert checks.NOT_DONE in "".join(o.get("text", "") for o in check_outputs)

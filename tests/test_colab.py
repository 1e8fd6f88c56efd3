"""The setup cell installs course_lib from the repository on Colab only; every notebook starts with the
current badge and setup cell; stated CPU times agree with the benchmark results."""
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

import course_lib
from course_lib import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CPU_RESULTS = ROOT / "benchmarks" / "results" / "cpu.json"


def _run_setup_cell(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    exec(colab.SETUP_SOURCE, {})
    return calls


def test_on_colab_the_setup_cell_installs_a_release_and_sets_the_mode(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("COURSE_MODE", "smoke")  # recorded, so that the cell's own setting is undone after
    monkeypatch.delenv("COURSE_MODE")
    calls = _run_setup_cell(monkeypatch)
    assert calls == [(([sys.executable, "-m", "pip", "install", "-q",  # the core package: no JupyterLab on Colab
                        f"git+https://github.com/text2image-course/course-kit@v{course_lib.__version__}"],),
                      {"check": True})]
    assert capsys.readouterr().out.startswith("GPU: ")
    assert os.environ["COURSE_MODE"] == "workshop"


def test_colab_cells_rewrites_every_badge_and_setup_cell_for_a_release(tmp_path):
    for path in NOTEBOOKS[:2]:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    run = lambda *args: subprocess.run([sys.executable, "-m", "course_lib", "colab-cells", "--notebooks", str(tmp_path),
                                        *args], capture_output=True, text=True, cwd=ROOT)
    done = run("--repository", "https://github.com/someone/course", "--ref", "v9.9")
    assert done.returncode == 0 and "updated 2 notebooks" in done.stdout
    nb = nbformat.read(tmp_path / NOTEBOOKS[0].name, as_version=4)
    assert "github/someone/course/blob/v9.9/notebooks/" in nb.cells[0].source
    assert "git+https://github.com/someone/course@v9.9" in nb.cells[1].source
    refused = run("--repository", "gitlab.com/someone/course")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "https://github.com/OWNER/NAME" in refused.stderr


def test_off_colab_the_setup_cell_does_nothing(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert _run_setup_cell(monkeypatch) == []
    assert capsys.readouterr().out == ""


def test_the_setup_cell_does_not_import_course_lib():
    assert "course_lib" not in colab.SETUP_SOURCE.split("\n", 1)[1].replace("install course_lib", "")


def test_badge_opens_the_notebook_in_the_repository():
    assert colab.badge("00_shapes_world.ipynb") == (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/text2image-course/course-kit/blob/v{course_lib.__version__}"
        "/notebooks/00_shapes_world.ipynb)")


def test_adding_the_cells_twice_changes_nothing(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\nText"),
                                         nbformat.v4.new_code_cell("import course_lib")])
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert colab.add_to_all(tmp_path) == [tmp_path / "x.ipynb"]
    assert colab.add_to_all(tmp_path) == []
    cells = nbformat.read(tmp_path / "x.ipynb", as_version=4).cells
    assert cells[0].source == f"# Title\n\n{colab.badge('x.ipynb')}\n\nText"
    assert [c.source for c in cells[1:]] == [colab.SETUP_SOURCE, "import course_lib"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_with_the_current_badge_and_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    hint = "run `python -m course_lib colab-cells`"
    assert colab.badge(path.name) in first_md.source, hint
    assert first_code.source == colab.SETUP_SOURCE, hint


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stated_cpu_time_matches_the_benchmark(path):
    if not CPU_RESULTS.exists():
        pytest.skip("no benchmarks/results/cpu.json yet")
    seconds = json.loads(CPU_RESULTS.read_text()).get("notebook_seconds", {}).get(path.stem)
    if seconds is None:
        pytest.skip(f"cpu.json has no notebook_seconds for {path.stem}")
    stated = colab.stated_cpu_minutes(nbformat.read(path, as_version=4))
    assert stated is not None, (f"{path.name} should say in its first markdown cell: "
                                "**Time:** about N min on a 2-core CPU, ... (workshop mode)")
    measured = seconds / 60
    assert abs(stated - measured) <= max(1.0, 0.25 * measured), \
        f"{path.name} says about {stated} min on a 2-core CPU; the benchmark measured {measured:.1f} min"


def test_a_published_student_edition_gets_its_own_badge(tmp_path):
    """colab-cells --student-folder: a second badge opens the student edition, which keeps only that one."""
    from course_lib import student

    (tmp_path / "nbs").mkdir()
    path = tmp_path / "nbs" / NOTEBOOKS[0].name
    path.write_text(NOTEBOOKS[0].read_text(encoding="utf-8"), encoding="utf-8")
    run = lambda *args: subprocess.run([sys.executable, "-m", "course_lib", "colab-cells", "--notebooks",
                                        str(tmp_path / "nbs"), "--repository", "https://github.com/someone/course",
                                        "--ref", "v9.9", *args], capture_output=True, text=True, cwd=ROOT)
    assert run("--student-folder", "student").returncode == 0
    instructor = nbformat.read(path, as_version=4).cells[0].source
    opens = "https://colab.research.google.com/github/someone/course/blob/v9.9"
    assert f"{opens}/notebooks/{path.name})" in instructor and f"{opens}/student/{path.name})" in instructor
    student.student_edition(tmp_path / "student", tmp_path / "nbs")
    own = nbformat.read(tmp_path / "student" / path.name, as_version=4).cells[0].source
    assert own.count("colab-badge.svg") == 1 and f"{opens}/student/{path.name})" in own
    assert "/notebooks/" not in own
    refused = run("--student-folder", "../elsewhere")
    assert refused.returncode == 2 and "--student-folder must be a folder of the repository" in refused.stderr

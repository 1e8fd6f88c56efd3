"""Every notebook runs top to bottom from a clean kernel in smoke mode, and is committed without outputs."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    with_outputs = [i for i, c in enumerate(nb["cells"])
                    if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not with_outputs, f"{path.name}: cells {with_outputs} carry outputs; strip them before committing"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_smoke_mode(path, smoke_run):
    """Every cell runs, solutions included (one execution shared with test_student, see conftest.SmokeRun)."""
    errors = smoke_run(path).errors()
    assert not errors, f"{path.name}: " + "; ".join(f"cell {i} failed with {error}" for i, error in errors)


@pytest.mark.notebook
def test_the_rendered_edition_builds_from_the_smoke_runs(smoke_run, tmp_path):
    """`make site`'s renderer on CI's own executions (no second run): one page per notebook, every page
    with its pictures embedded and no error, the hidden tests gone, and an index linking them all."""
    from course_lib import rendered

    runs = {path.stem: smoke_run(path) for path in NOTEBOOKS}
    lessons = [(stem, run.instructor_edition(), run.seconds) for stem, run in runs.items()]
    for stem, nb, _ in lessons:
        assert not rendered.failures(nb), f"{stem}: {rendered.failures(nb)}"
    index = rendered.write_site(tmp_path, lessons, "smoke").read_text()
    for stem, nb, _ in lessons:
        page = (tmp_path / f"{stem}.html").read_text()
        assert f'href="{stem}.html"' in index
        assert page.count("data:image/png;base64,") >= 2, f"{stem}.html shows fewer than two pictures"
        assert "BEGIN HIDDEN TESTS" not in page and "BEGIN SOLUTION" in page, stem
        assert rendered.title(nb, stem) in page

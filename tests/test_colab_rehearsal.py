"""A Colab rehearsal (issue #22): install the course as a Colab setup cell does, into a fresh virtual
environment that has only torch, a kernel and widgets (as a Colab runtime has), then run notebook 09 from that
install in smoke mode with the network for models cut. A file missing from the package data, or a
dependency that only the ``dev`` extra brought, fails here before it fails on Colab.

It installs the committed HEAD of this checkout (``git+file://``), as the setup cell installs a tag of
the published repository: uncommitted changes are not part of the rehearsal.
"""
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from course_lib import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "09_dalle_mini_pipeline.ipynb"

RUN_NOTEBOOK = """
import sys
import nbformat
import course_lib
from course_lib import kernels
assert "site-packages" in course_lib.__file__, course_lib.__file__  # the install, not a checkout
nb = nbformat.read(sys.argv[1], as_version=4)
kernels.execute(nb, sys.argv[2], mode="smoke")
print("ran", len(nb.cells), "cells")
"""


def _link_preinstalled(names: tuple[str, ...], site_packages: Path) -> None:
    """Put ``names``, and every distribution they require, into ``site_packages`` as links to this
    environment's install of them: the packages a Colab runtime comes with, without copying the 5 GB that
    torch and the CUDA libraries its wheel requires take (a copy took about a minute here). pip in the
    fresh environment then finds them installed, as it does on Colab."""
    todo, seen = list(names), set()
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        if dist.name.lower() in seen:
            continue
        seen.add(dist.name.lower())
        for top in {Path(str(file)).parts[0] for file in dist.files or []} - {".."}:  # "..": scripts in bin/
            link = site_packages / top
            if not link.exists():
                link.symlink_to(dist.locate_file(top))
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)


def _head() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout: nothing to install from a git URL")
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.notebook
def test_a_colab_like_install_runs_the_pipeline_notebook(tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"HF_HUB_OFFLINE": "1"}
    pip = [python, "-m", "pip", "install", "-q", "--no-compile"]  # no .pyc for the thousands of files: faster
    # what a Colab runtime already has: torch, a Jupyter kernel, and the ipywidgets its own front end
    # renders (7.7.1 since 2022, googlecolab/colabtools#3020; not checked against today's runtime here)
    site_packages = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    _link_preinstalled(("torch", "torchvision"), site_packages)
    subprocess.run(pip + ["ipykernel<7", "ipywidgets==7.7.1"], check=True, env=env, cwd=work)
    # what the setup cell runs, with the repository at this commit in place of the published tag
    cell = colab.setup_source(f"file://{ROOT}", _head())
    url = next(word.strip('"],') for word in cell.split() if word.startswith('"git+'))
    subprocess.run(pip + [url], check=True, env=env, cwd=work)
    done = subprocess.run([python, "-c", RUN_NOTEBOOK, str(NOTEBOOK), str(work)], capture_output=True, text=True,
                          env=env, cwd=work, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran" in done.stdout

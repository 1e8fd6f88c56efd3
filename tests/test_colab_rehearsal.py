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
    pip = [python, "-m", "pip", "install", "-q", "--no-compile"]  # no .pyc for torch's thousands of files: 13 s less
    # what a Colab runtime already has: torch, a Jupyter kernel, and the ipywidgets its own front end
    # renders (7.7.1 since 2022, googlecolab/colabtools#3020; not checked against today's runtime here)
    runtime = [f"{name}=={importlib.metadata.version(name)}" for name in ("torch", "torchvision")]
    subprocess.run(pip + runtime + ["ipykernel<7", "ipywidgets==7.7.1"], check=True, env=env, cwd=work)
    # what the setup cell runs, with the repository at this commit in place of the published tag
    cell = colab.setup_source(f"file://{ROOT}", _head())
    url = next(word.strip('"],') for word in cell.split() if word.startswith('"git+'))
    subprocess.run(pip + [url], check=True, env=env, cwd=work)
    done = subprocess.run([python, "-c", RUN_NOTEBOOK, str(NOTEBOOK), str(work)], capture_output=True, text=True,
                          env=env, cwd=work, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran" in done.stdout

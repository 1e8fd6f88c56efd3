"""The environment a headless kernel inherits is set for the run and put back after it, and a
process started in it imports this very course_lib (a checkout's, or the one in site-packages)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import course_lib
from course_lib import kernels, paths


def test_kernel_environment_sets_and_restores(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "workshop")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with kernels.kernel_environment("smoke", CUDA_VISIBLE_DEVICES=""):
        assert os.environ["COURSE_MODE"] == "smoke"
        assert os.environ["MPLBACKEND"] == kernels.INLINE_BACKEND
        assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(paths.IMPORT_ROOT), "/elsewhere"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert os.environ["COURSE_MODE"] == "workshop" and os.environ["PYTHONPATH"] == "/elsewhere"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_restored_after_an_error(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    with pytest.raises(RuntimeError):
        with kernels.kernel_environment("smoke"):
            raise RuntimeError
    assert "COURSE_MODE" not in os.environ


def test_the_import_root_is_the_folder_that_holds_this_course_lib():
    assert paths.IMPORT_ROOT / "course_lib" == Path(course_lib.__file__).resolve().parent


def test_a_kernel_imports_the_same_course_lib(tmp_path, monkeypatch):
    """Started elsewhere and without site-packages (``-S``: no install, editable or not, to fall back
    on), a child process finds course_lib only through the PYTHONPATH set for kernels, and it is ours."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    code = "import course_lib; print(course_lib.__file__)"
    with kernels.kernel_environment("smoke"):
        found = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                               check=True).stdout.strip()
    assert Path(found).resolve() == Path(course_lib.__file__).resolve()

"""The environment a headless kernel inherits is set for the run and put back after it."""
import os

import pytest

from course_lib import kernels


def test_kernel_environment_sets_and_restores(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "workshop")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with kernels.kernel_environment("smoke", CUDA_VISIBLE_DEVICES=""):
        assert os.environ["COURSE_MODE"] == "smoke"
        assert os.environ["MPLBACKEND"] == kernels.INLINE_BACKEND
        assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(kernels.PACKAGE_ROOT), "/elsewhere"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert os.environ["COURSE_MODE"] == "workshop" and os.environ["PYTHONPATH"] == "/elsewhere"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_restored_after_an_error(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    with pytest.raises(RuntimeError):
        with kernels.kernel_environment("smoke"):
            raise RuntimeError
    assert "COURSE_MODE" not in os.environ

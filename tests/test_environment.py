"""import course_lib is fast and side-effect free; device, mode and the doctor behave."""
import subprocess
import sys
import urllib.request

import pytest

import course_lib
from course_lib import doctor
from course_lib.__main__ import main


def test_import_does_not_load_torch_or_change_global_state():
    code = ("import sys, course_lib; assert 'torch' not in sys.modules, 'torch imported'; "
            "import torch; g = torch.is_grad_enabled(); import course_lib.oracle; "
            "assert torch.is_grad_enabled() == g")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mode(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "Full")
    assert course_lib.mode() == "full"
    monkeypatch.setenv("COURSE_MODE", "fast")
    with pytest.raises(ValueError, match="use one of: smoke, workshop, full"):
        course_lib.mode()


def test_device_choice():
    import torch

    assert course_lib.device("cpu").type == "cpu"
    assert course_lib.device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU is available here"):
            course_lib.device("cuda")


def test_course_device_sets_the_choice_and_a_bad_one_is_refused(monkeypatch):
    import torch

    monkeypatch.setenv("COURSE_DEVICE", "meta")
    assert course_lib.device() == torch.device("meta")
    assert course_lib.device("cpu").type == "cpu"  # an explicit choice wins
    monkeypatch.setenv("COURSE_DEVICE", "gpu")
    with pytest.raises(ValueError, match="'gpu' is not a torch device.*use cpu or cuda"):
        course_lib.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="no CUDA GPU is available here"):
            course_lib.device()


def test_seed_everything_repeats_random_draws():
    import torch

    course_lib.seed_everything(5)
    a = torch.rand(3)
    course_lib.seed_everything(5)
    assert torch.equal(a, torch.rand(3))


def test_doctor_reports_without_touching_the_network(monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise AssertionError("doctor contacted the network without --online")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert main(["doctor"]) == 0, capsys.readouterr().out  # the test environment has all it needs
    out = capsys.readouterr().out
    assert "torch" in out and "device:" in out and "shipped checkpoints" in out and "not checked" in out
    assert out.rstrip().endswith("all good") and "WARNING" not in out


def test_doctor_fails_when_something_is_wrong(monkeypatch, capsys):
    real = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda p: None if p == "open_clip_torch" else real(p))
    assert main(["doctor"]) == 1
    assert doctor.report() is False
    out = capsys.readouterr().out
    assert "WARNING: open_clip_torch is not installed" in out and "1 problem(s) found" in out


def test_doctor_online_check_reports_offline(monkeypatch):
    facts, _ = doctor.checks(online=True)  # HF_HUB_OFFLINE=1 in the tests: answers offline, no call
    assert any("no answer from the model hub" in f for f in facts)


def test_doctor_warns_about_a_missing_package(monkeypatch):
    real = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda p: None if p == "open_clip_torch" else real(p))
    _, warnings = doctor.checks()
    assert any("open_clip_torch is not installed" in w for w in warnings)

"""The command line answers bad input in one line, before loading a model or training one, and loses
nothing: ``draw``'s arguments, ``train``'s folder (never the shipped one unless asked), ``grade``'s
folders. Every test runs ``main`` in this process with the models stubbed, so none loads a model."""
import hashlib
import re
import types
from pathlib import Path

import pytest
import torch
from PIL import Image

from course_lib import checkpoints, dalle_mini, stages
from course_lib.__main__ import main
from course_lib.checkpoints import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "a red circle to the left of a blue square"


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``python -m course_lib *argv``, argparse's exits included."""
    try:
        code = main(list(argv))
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str, message: str):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


class FakePipeline:
    """Stands in for the shipped pipeline: a draw takes no time and loads nothing."""

    def draw(self, prompt, n, *, seed=0):
        return types.SimpleNamespace(images=torch.rand(n, 3, 32, 32), scores=torch.linspace(30, 10, n))


@pytest.fixture
def no_models(monkeypatch):
    """Loading a model fails the test: bad input must be answered before any is loaded."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")
    monkeypatch.setattr(dalle_mini, "load_shipped_pipeline", refuse)
    monkeypatch.setattr(checkpoints, "load", refuse)


@pytest.fixture
def fake_pipeline(monkeypatch):
    """``load_shipped_pipeline`` gives a ``FakePipeline``; the list holds the keyword arguments of each call."""
    calls = []

    def load(*args, **kwargs):
        calls.append(kwargs)
        return FakePipeline()
    monkeypatch.setattr(dalle_mini, "load_shipped_pipeline", load)
    return calls


@pytest.mark.parametrize("args, message", [
    (["-o", "notes.txt/out.png"], "cannot write notes.txt/out.png: notes.txt is a file, not a folder"),
    (["-o", "/proc/out.png"], "cannot write /proc/out.png: /proc takes no new files"),
    (["-o", "out.xyz"], "cannot write 'out.xyz': name a file ending in .png, .jpg, .jpeg, .pdf, .svg"),
    (["-o", ""], "-o needs a file name, e.g. -o out.png"),
    (["--seed", "18446744073709551616"], "--seed takes a whole number from 0 to 2**64 - 1"),
    (["--seed", "-1"], "--seed takes a whole number from 0 to 2**64 - 1"),
    (["--guidance", "nan"], "--guidance takes a number from 0 to 100, got 'nan': 1 (the default) is plain"),
    (["--guidance", "inf"], "--guidance takes a number from 0 to 100"),
    (["--guidance", "-1"], "0 ignores the prompt"),
    (["--checkpoints", "nowhere"], "'nowhere' is not a folder; give the --out folder of python -m course_lib train"),
    (["--checkpoints", "."], "holds no bart, vqgan, clip checkpoint; train one there"),
])
def test_draw_bad_arguments_are_one_line_before_loading(args, message, tmp_path, monkeypatch, capsys, no_models):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me")
    code, out, err = run(capsys, "draw", PROMPT, "-n", "2", *args)
    assert code == 2 and out == ""
    assert_one_line(err, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("out, written", [
    ("somedir", "somedir/out.png"),  # an existing folder gets out.png inside it
    ("new/grid.jpg", "new/grid.jpg"),  # a missing folder is made
    ("grid.PNG", "grid.PNG"),
])
def test_draw_prints_the_path_it_wrote(out, written, tmp_path, monkeypatch, capsys, fake_pipeline):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "somedir").mkdir()
    code, stdout, err = run(capsys, "draw", PROMPT, "-n", "3", "-o", out, "--device", "cpu")
    assert code == 0, err
    printed = re.match(r"wrote (\S+) \(3 candidates for '.*', best score 30.00\)$", stdout.strip())
    assert printed and printed.group(1) == str(Path(written)), stdout
    with Image.open(tmp_path / printed.group(1)) as picture:
        picture.verify()


def test_draw_takes_the_edges_of_seed_and_guidance(tmp_path, monkeypatch, capsys, fake_pipeline):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "draw", PROMPT, "-n", "1", "--seed", str(2**64 - 1), "--guidance", "0",
                       "--device", "cpu")
    assert code == 0, err
    assert fake_pipeline == [{"directory": None, "guidance_scale": 0.0}]


def test_draw_with_a_folder_of_retrained_checkpoints(tmp_path, monkeypatch, capsys, fake_pipeline):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "clip.safetensors").write_bytes(b"")  # only where it is matters here
    code, out, err = run(capsys, "draw", PROMPT, "-n", "2", "--checkpoints", "mine", "--device", "cpu")
    assert code == 0, err
    assert fake_pipeline == [{"directory": Path("mine")}]
    assert "checkpoints: bart shipped, vqgan shipped, clip from mine" in out


def test_draw_refuses_a_vqgan_without_its_bart(tmp_path, monkeypatch, capsys, no_models):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "vqgan.safetensors").write_bytes(b"")
    code, _, err = run(capsys, "draw", PROMPT, "--checkpoints", "mine")
    assert code == 2
    assert_one_line(err, "needs a bart trained on its codes beside it")


@pytest.mark.skipif(torch.cuda.is_available(), reason="there is a GPU here")
def test_draw_on_cuda_without_a_gpu_is_one_line(tmp_path, monkeypatch, capsys, no_models):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "draw", PROMPT, "--device", "cuda")
    assert code == 1
    assert_one_line(err, "no CUDA GPU is available here; run on the CPU (device('cpu'), or --device cpu")


def _fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in folder.iterdir()}


@pytest.fixture
def trained(monkeypatch):
    """``train STAGE`` records the folder it was given instead of training (nothing is written)."""
    folders = []
    monkeypatch.setattr(stages, "train_and_save", lambda name, mode, out_dir: folders.append((mode, out_dir)))
    return folders


@pytest.mark.parametrize("out", [str(DATA_DIR), "link-to-data", "link-to-data/"])
def test_train_refuses_the_shipped_folder_without_replace_shipped(out, tmp_path, monkeypatch, capsys, trained):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link-to-data").symlink_to(DATA_DIR)
    before = _fingerprint(DATA_DIR)
    code, _, err = run(capsys, "train", "vqvae", "--mode", "smoke", "--out", out)
    assert code == 2 and trained == []
    assert_one_line(err, "holds the shipped checkpoints; train into a folder of your own (--out DIR), "
                         "or add --replace-shipped to replace them")
    assert _fingerprint(DATA_DIR) == before


def test_train_writes_into_checkpoints_here_by_default(tmp_path, monkeypatch, capsys, trained):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "train", "vqvae", "--mode", "smoke")
    assert code == 0 and trained == [("smoke", Path("checkpoints"))]
    assert out.strip() == "trained vqvae into checkpoints"


def test_train_of_a_pipeline_part_says_how_to_draw_with_it(tmp_path, monkeypatch, capsys, trained):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "train", "clip", "--mode", "smoke", "--out", "mine")
    assert code == 0
    assert out.strip() == "trained clip into mine; draw with it: python -m course_lib draw PROMPT --checkpoints mine"


def test_replace_shipped_writes_into_the_shipped_folder(capsys, trained):
    code, _, _ = run(capsys, "train", "vqvae", "--mode", "full", "--replace-shipped")
    assert code == 0 and trained == [("full", DATA_DIR)]


@pytest.mark.parametrize("args, message", [
    (["--replace-shipped", "--out", "mine"], "--replace-shipped writes into"),
    (["--out", "notes.txt"], "--out notes.txt is a file; give a folder"),
])
def test_train_bad_folder_is_one_line(args, message, tmp_path, monkeypatch, capsys, trained):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "train", "vqvae", "--mode", "smoke", *args)
    assert code == 2 and trained == []
    assert_one_line(err, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("folder, message", [
    ("nonexistent", "the submissions folder nonexistent does not exist; give the folder that holds"),
    ("empty", "empty holds no submissions; put each student's notebooks in a folder of their own"),
])
def test_grade_bad_folder_is_one_line(folder, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty" / "alice").mkdir(parents=True)
    code, out, err = run(capsys, "grade", folder)
    assert code == 2 and out == ""
    assert_one_line(err, message)
    assert not list(tmp_path.rglob("grades.csv"))


def test_every_phony_make_target_has_a_rule():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    assert "demo" in phony
    for target in phony:
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} has no rule"

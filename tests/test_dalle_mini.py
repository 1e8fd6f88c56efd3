"""The pipeline sorts by score and repeats under a seed; the draw command writes its grid and answers bad
input in one line."""
import dataclasses
import shutil
import subprocess
import sys

import pytest
import torch
from PIL import Image

from course_lib import checkpoints, dalle_mini
from course_lib.captions import CaptionError
from course_lib.checkpoints import CheckpointError


def test_draw_returns_pictures_sorted_by_score(pipeline):
    drawing = pipeline.draw("a red circle above a blue square", 6, seed=1)
    assert drawing.images.shape == (6, 3, 32, 32) and drawing.codes.shape == (6, 8, 8)
    assert (drawing.scores[:-1] >= drawing.scores[1:]).all()
    rescored = pipeline.ranker(drawing.images, drawing.prompt)
    assert torch.allclose(rescored, drawing.scores, atol=1e-4)


def test_same_seed_same_pictures(pipeline):
    a = pipeline.draw("a green box at the top", 4, seed=7)
    b = pipeline.draw("a green box at the top", 4, seed=7)
    assert torch.equal(a.images, b.images) and torch.equal(a.codes, b.codes)
    assert not torch.equal(a.codes, pipeline.draw("a green box at the top", 4, seed=8).codes)


def test_a_ranker_of_your_own_plugs_in(pipeline):
    brightest = dataclasses.replace(pipeline, ranker=lambda images, prompt: images.mean((1, 2, 3)))
    drawing = brightest.draw("a yellow disc", 5, seed=0)
    means = drawing.images.mean((1, 2, 3))
    assert (means[:-1] >= means[1:]).all()


class _ConstantTranslator(torch.nn.Module):
    """Not a BART: writes code 3 everywhere, through the ``sample`` method the pipeline calls."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def sample(self, prompts, *, temperature, top_k, guidance_scale, generator):
        return torch.full((len(prompts), 64), 3, dtype=torch.long)


def test_a_translator_of_your_own_plugs_in(pipeline):
    constant = dataclasses.replace(pipeline, translator=_ConstantTranslator())
    drawing = constant.draw("a red circle", 3, seed=0)
    assert (drawing.codes == 3).all()
    assert torch.allclose(drawing.images[0], pipeline.image_tokenizer.decode(drawing.codes[:1])[0].cpu())


@pytest.mark.parametrize("prompt", ["", "a pink circle", "a " * 30 + "circle"])
def test_bad_prompts_raise_before_any_work(pipeline, prompt):
    with pytest.raises(CaptionError):
        pipeline.draw(prompt, 4)


@pytest.mark.parametrize("args, message", [
    (["a pink circle"], "error: unknown word 'pink'; ShapesWorld knows:"),
    ([""], "error: the prompt is empty"),
    (["a " * 30 + "circle"], "error: the prompt has 31 words; at most 24 are accepted"),
    (["a red circle", "-n", "0"], "-n takes a whole number from 1 to 256"),
    (["a red circle a blue square"], "error: two shapes need a relation"),
])
def test_draw_command_bad_input_is_one_clear_line(args, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "course_lib", "draw", *args, "-o", str(tmp_path / "x.png")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_draw_command_writes_the_grid_and_says_where(tmp_path):
    out, mine = tmp_path / "grid" / "red.png", tmp_path / "mine"
    mine.mkdir()
    for suffix in (".safetensors", ".json"):  # a retrained CLIP, as train clip --out mine leaves it
        shutil.copy(checkpoints.shipped("clip").with_suffix(suffix), mine)
    result = subprocess.run([sys.executable, "-m", "course_lib", "draw", "a red circle", "-n", "4", "-o", str(out),
                             "--device", "cpu", "--checkpoints", str(mine)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"checkpoints: bart shipped, vqgan shipped, clip from {mine}" in result.stdout
    assert f"wrote {out} (4 candidates for 'a red circle'" in result.stdout
    with Image.open(out) as grid:  # a whole PNG: the process ends without tearing down, after writing
        grid.verify()


def test_checkpoint_paths_take_each_part_from_the_folder_when_there(tmp_path):
    assert dalle_mini.checkpoint_paths() == {name: checkpoints.shipped(name) for name in dalle_mini.PARTS}
    (tmp_path / "clip.safetensors").write_bytes(b"")
    assert dalle_mini.checkpoint_paths(tmp_path) == {"bart": checkpoints.shipped("bart"),
                                                     "vqgan": checkpoints.shipped("vqgan"),
                                                     "clip": tmp_path / "clip.safetensors"}
    for name in ("bart", "vqgan"):
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    mine = {name: tmp_path / f"{name}.safetensors" for name in dalle_mini.PARTS}
    assert dalle_mini.checkpoint_paths(tmp_path) == mine


def test_checkpoint_paths_refuse_a_folder_without_parts_or_a_vqgan_without_its_bart(tmp_path):
    (tmp_path / "vqvae.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="holds no bart, vqgan, clip checkpoint; train one there"):
        dalle_mini.checkpoint_paths(tmp_path)
    (tmp_path / "vqgan.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="needs a bart trained on its codes beside it .* train bart --out"):
        dalle_mini.checkpoint_paths(tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="there is a GPU here")
def test_load_shipped_pipeline_on_cuda_without_a_gpu_says_so_before_loading(monkeypatch):
    monkeypatch.setattr(checkpoints, "load", lambda *args, **kwargs: pytest.fail("a checkpoint was loaded"))
    with pytest.raises(RuntimeError, match=r"no CUDA GPU is available here; run on the CPU \(device\('cpu'\)"):
        dalle_mini.load_shipped_pipeline("cuda")

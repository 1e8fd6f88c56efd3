"""Device slips caught without a GPU (issue #22).

On a GPU a tensor made on the CPU that meets the model's weights crashes the run; on a CPU-only
machine both are on the CPU and nothing shows. Here every stage's model is moved to PyTorch's
``meta`` device (tensors with shapes but no values): any tensor the library makes without following
the model's device meets a meta weight and raises "Tensor on device meta is not on the expected
device cpu", as a CPU tensor meeting a CUDA weight would. Where a real run reads values back
(``.item()``, ``.cpu()``, ``float(...)``), ``MetaReadouts`` hands back ones of the right shape (a
white picture, a loss of 1, a valid probability vector): only where the tensors live is tested.
"""
import contextlib
import json
import re
from pathlib import Path

import pytest
import torch

from course_lib import checkpoints, stages, train
from course_lib.train import seeded
import meta_device
from meta_device import META, MetaReadouts

NEEDS = {name: checkpoints.shipped(name) for name in ("clip", "vqvae", "vqgan", "bart")}


def test_a_cpu_tensor_meeting_a_meta_model_fails_as_on_a_gpu():
    """The premise: what the test relies on to stand in for a GPU."""
    layer = torch.nn.Linear(3, 2).to(META)
    with pytest.raises(RuntimeError, match="meta"):
        layer(torch.zeros(1, 3))
    with MetaReadouts():
        assert layer(torch.zeros(1, 3, device=META)).sum().item() == 1
        assert torch.equal(layer(torch.zeros(1, 3, device=META)).cpu(), torch.ones(1, 2))
        assert torch.allclose(torch.zeros(2, device=META), torch.zeros(2, device=META))  # value-dependent: run on ones
        with pytest.raises((RuntimeError, NotImplementedError)):
            torch.allclose(torch.zeros(2, device=META), torch.zeros(2))  # a CPU tensor beside a meta one: the slip


@pytest.mark.parametrize("name", sorted(stages.STAGES))
def test_train_and_evaluate_follow_the_models_device(name, monkeypatch):
    """The tiny preset built as ``Stage.fit`` builds it, moved to ``meta``, trained through the stage's
    ``train`` and measured through its ``measure``: no tensor may stay behind on the CPU, and the
    training loop is told where the model is (it picks the step's precision by that)."""
    told = []
    monkeypatch.setattr(train, "mixed_precision", lambda device: told.append(torch.device(device)) or contextlib.nullcontext())
    stage = stages.STAGES[name]
    needs = {need: NEEDS[need] for need in stage.needs}
    config, training = stage.preset("tiny")
    with seeded(training.seed):
        model = stage.build(config, needs)
    with MetaReadouts():
        model, history = stage.train(model.to(META), training, needs)
        assert history.steps == training.steps
        assert all(p.is_meta for p in model.parameters())
        figures = stage.measure(model, training, needs)
    assert set(figures) == set(stage.metrics)
    assert told and set(told) == {META}, f"train.fit was told the model is on {set(told)}"


@pytest.mark.parametrize("name", sorted(stages.STAGES))
def test_every_stage_trains_under_bf16_autocast(name, monkeypatch):
    """What ``train.mixed_precision`` turns on for a GPU with bf16, tried with the CPU's autocast: every
    step of the tiny preset must run and give finite losses with bf16 activations beside fp32 weights,
    buffers and codebooks (a dtype slip would raise here as it would on the GPU)."""
    entered = []

    def bf16(device):
        entered.append(torch.device(device).type)
        return torch.autocast("cpu", dtype=torch.bfloat16)

    monkeypatch.setattr(train, "mixed_precision", bf16)
    stage = stages.STAGES[name]
    needs = {need: NEEDS[need] for need in stage.needs}
    config, training = stage.preset("tiny")
    with seeded(training.seed):
        model = stage.build(config, needs)
    model, history = stage.train(model, training, needs)
    assert entered, "every step runs in train.mixed_precision"
    assert history.steps == training.steps
    assert all(torch.isfinite(torch.tensor(values)).all() for values in history.losses.values())
    assert all(p.dtype == torch.float32 for p in model.parameters()), "weights stay fp32 under autocast"


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # the autocast is built, never entered, here
def test_mixed_precision_is_bf16_only_on_a_gpu_that_computes_it(monkeypatch):
    assert not isinstance(train.mixed_precision("cpu"), torch.autocast)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    on = train.mixed_precision("cuda")
    assert isinstance(on, torch.autocast) and on.fast_dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert not isinstance(train.mixed_precision("cuda"), torch.autocast), "a T4 only emulates bf16: fp32 there"


NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# An error that says a tensor is where its model is not: what a GPU runtime would have crashed on
# ("Expected all tensors to be on the same device", "Tensor on device meta is not on the expected
# device cpu", "can't convert meta device type tensor to numpy", "Cannot copy out of meta tensor").
DEVICE_SLIP = re.compile(r"device|meta tensor|to numpy", re.IGNORECASE)
# Appended to the notebook: every model it holds, by name (or in a dict or list it holds, or as a part of
# an object it holds, such as the pipeline's translator), with where its weights are.
HELD_MODELS = '''
import json as _json
import torch as _torch

def _models(name, value):
    if isinstance(value, _torch.nn.Module):
        yield name, value
    elif isinstance(value, dict):
        yield from ((f"{name}[{key!r}]", inner) for key, inner in value.items() if isinstance(inner, _torch.nn.Module))
    elif isinstance(value, (list, tuple)):
        yield from ((f"{name}[{i}]", inner) for i, inner in enumerate(value) if isinstance(inner, _torch.nn.Module))
    elif not isinstance(value, type) and hasattr(value, "__dict__"):
        for part, inner in vars(value).items():
            if isinstance(inner, _torch.nn.Module):
                yield f"{name}.{part}", inner

print("HELD MODELS", _json.dumps({name: sorted({str(p.device) for p in model.parameters()})
                                  for held, value in list(globals().items()) if not held.startswith("_")
                                  for name, model in _models(held, value) if any(True for _ in model.parameters())}))
'''


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_its_models_on_another_device(path, tmp_path):
    """Every notebook in smoke mode with ``COURSE_DEVICE=meta``: ``course_lib.device()`` then names a
    device that is not the CPU, as it names the GPU on a Colab GPU runtime. No cell may fail on a
    tensor left on the CPU (or read back without ``.cpu()``), and every model the notebook holds at
    the end must be on that device: one left on the CPU is a model a GPU runtime would train on the CPU."""
    import nbformat

    from course_lib import kernels

    meta_device.startup_file(tmp_path / "ipython")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HELD_MODELS))
    kernels.execute(nb, path.parent, mode="smoke", allow_errors=True, name=path.name, COURSE_DEVICE="meta",
                    IPYTHONDIR=str(tmp_path / "ipython"), COURSE_LIB_CACHE=str(tmp_path / "cache"))
    slips = [f"cell {i}: {out.ename}: {out.evalue.splitlines()[0] if out.evalue else ''}"
             for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for out in cell.get("outputs", []) if out.output_type == "error" and DEVICE_SLIP.search(f"{out.ename} {out.evalue}")]
    assert not slips, f"{path.name} on a device that is not the CPU: " + "; ".join(slips)
    printed = "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", []) if out.output_type == "stream")
    assert "HELD MODELS" in printed, f"{path.name}: the check of its models did not run: {nb.cells[-1].outputs}"
    held = json.loads(printed.split("HELD MODELS", 1)[1])
    off = {name: where for name, where in held.items() if where != ["meta"]}
    assert not off, f"{path.name} keeps models off the device course_lib.device() names: {off}"

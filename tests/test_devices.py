"""Device slips caught without a GPU (issue #22).

On a GPU a tensor made on the CPU that meets the model's weights crashes the run; on a CPU-only
machine both are on the CPU and nothing shows. Here every stage's model is moved to PyTorch's
``meta`` device (tensors with shapes but no values): any tensor the library makes without following
the model's device meets a meta weight and raises "Tensor on device meta is not on the expected
device cpu", as a CPU tensor meeting a CUDA weight would. Where a real run reads values back
(``.item()``, ``.cpu()``, ``float(...)``), ``MetaReadouts`` hands back ones of the right shape (a
white picture, a loss of 1, a valid probability vector): only where the tensors live is tested.
"""
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

from course_lib import checkpoints, stages
from course_lib.train import seeded

META = torch.device("meta")
NEEDS = {"clip": checkpoints.shipped("clip"), "vqvae": checkpoints.shipped("vqvae"), "vqgan": checkpoints.shipped("vqgan")}
_READOUTS = (torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.cpu, torch.Tensor.__float__, torch.Tensor.__int__,
             torch.Tensor.__bool__, torch.Tensor.__index__)


def _is_meta(value) -> bool:
    return isinstance(value, torch.Tensor) and value.is_meta


def _ones(tensor: torch.Tensor) -> torch.Tensor:
    """What the CPU would read from a meta tensor, were it all ones."""
    return torch.ones(tensor.shape, dtype=tensor.dtype)


def _to_cpu(args, kwargs) -> bool:
    """Whether ``Tensor.to(*args, **kwargs)`` asks for the CPU."""
    target = kwargs.get("device", next((a for a in args if isinstance(a, (str, torch.device))), None))
    return target is not None and torch.device(target).type == "cpu"


class MetaReadouts(TorchFunctionMode):
    """Reading a meta tensor back (to the CPU, or as a Python number) gives ones; everything else runs."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if args and _is_meta(args[0]) and (func in _READOUTS or (func is torch.Tensor.to and _to_cpu(args[1:], kwargs))):
            return func(_ones(args[0]), *args[1:], **kwargs)
        try:
            return func(*args, **kwargs)
        except NotImplementedError:  # an op whose output depends on values (bincount, a mask index): run it
            # on ones on the CPU and put what it returns back on meta (a device mismatch is a RuntimeError)
            args, kwargs = tree_map(lambda x: _ones(x) if _is_meta(x) else x, (args, kwargs))
            return tree_map(lambda x: x.to(META) if isinstance(x, torch.Tensor) else x, func(*args, **kwargs))


def test_a_cpu_tensor_meeting_a_meta_model_fails_as_on_a_gpu():
    """The premise: what the test relies on to stand in for a GPU."""
    layer = torch.nn.Linear(3, 2).to(META)
    with pytest.raises(RuntimeError, match="meta"):
        layer(torch.zeros(1, 3))
    with MetaReadouts():
        assert layer(torch.zeros(1, 3, device=META)).sum().item() == 1
        assert torch.equal(layer(torch.zeros(1, 3, device=META)).cpu(), torch.ones(1, 2))


@pytest.mark.parametrize("name", sorted(stages.STAGES))
def test_train_and_evaluate_follow_the_models_device(name):
    """The tiny preset built as ``Stage.fit`` builds it, moved to ``meta``, trained through the stage's
    ``train`` and measured through its ``measure``: no tensor may stay behind on the CPU."""
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

"""The ``meta`` device as a stand-in for a GPU, for tests/test_devices.py and the notebook runs it starts.

A tensor on ``meta`` has a shape and a dtype and no values. A CPU tensor that meets a meta weight
raises "... is not on the expected device ...", as a CPU tensor meeting a CUDA weight does, so a
model moved to ``meta`` shows every tensor the code forgot to put where the model is. Where a run
reads values back (``.item()``, ``.cpu()``, ``float(...)``), ``MetaReadouts`` hands back ones of the
right shape (a white picture, a loss of 1), so the run goes on: only where tensors live is tested.

``install()`` turns it on for a whole process: a notebook kernel imports this module from an IPython
startup file (``startup_file``) and runs with ``COURSE_DEVICE=meta`` (``course_lib.device``).
"""
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

META = torch.device("meta")
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
    """Reading a meta tensor back (to the CPU, or as a Python number) gives ones; everything else runs.

    An op that cannot run on meta because its result depends on values (``bincount``, a mask index,
    ``allclose``) runs on ones on the CPU instead, its result put back on meta, but only when every
    tensor it is given lives on meta: a CPU tensor beside a meta one is the slip being looked for (a
    0-dim CPU tensor excepted, which CUDA accepts beside its own tensors too)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if args and _is_meta(args[0]) and (func in _READOUTS or (func is torch.Tensor.to and _to_cpu(args[1:], kwargs))):
            return func(_ones(args[0]), *args[1:], **kwargs)
        try:
            return func(*args, **kwargs)
        except (NotImplementedError, RuntimeError) as error:
            value_dependent = isinstance(error, NotImplementedError) or "cannot be called on meta tensors" in str(error)
            tensors = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, torch.Tensor)]
            if not value_dependent or any(not t.is_meta and t.dim() > 0 for t in tensors):
                raise
            args, kwargs = tree_map(lambda x: _ones(x) if _is_meta(x) else x, (args, kwargs))
            return tree_map(lambda x: x.to(META) if isinstance(x, torch.Tensor) else x, func(*args, **kwargs))


def install() -> MetaReadouts:
    """``MetaReadouts`` on for the rest of this process (a notebook kernel's)."""
    mode = MetaReadouts()
    mode.__enter__()
    return mode


def startup_file(ipython_dir) -> None:
    """An IPython profile under ``ipython_dir`` whose kernels start with ``install()`` done."""
    from pathlib import Path

    startup = Path(ipython_dir) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    (startup / "00-meta-device.py").write_text(
        f"import sys\nsys.path.insert(0, {str(here)!r})\nimport meta_device\nmeta_device.install()\n")

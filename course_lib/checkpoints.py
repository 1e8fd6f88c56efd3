"""Checkpoints: safetensors weights with a JSON config beside them, and the shipped ones.

A checkpoint is two files, ``NAME.safetensors`` (the tensors, never a pickle, so loading one cannot
run code) and ``NAME.json`` (the model's config dataclass, how it was trained, and the SHA-256 of the
weights), so a model can be rebuilt from the pair alone, as nanoGPT stores ``model_args`` with its
weights. Every failure (missing, corrupt, made for another model) is a ``CheckpointError`` that says
what to do.

The course ships checkpoints trained in full mode in ``course_lib/data/`` (they come with the install,
on Colab too). ``load_or_train`` loads one if present and otherwise trains the preset and says so,
so a notebook never fails for a missing file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Callable, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from .paths import DATA_DIR

Model = TypeVar("Model", bound=torch.nn.Module)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message says why and what to do."""


def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(model: torch.nn.Module, path: str | Path, config, training=None, **info) -> Path:
    """Write ``model``'s weights and ``config`` (a dataclass) to ``path``.safetensors / .json.

    ``training`` (the ``train.Training`` it was trained with) and ``info`` (steps, seconds, mode,
    metrics) add how it was made to the JSON file; loading reads only the config.
    """
    weights, meta = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(weights))  # tied weights (e.g. BART's shared embeddings) are stored once
    record = {"model": type(model).__name__, "config": dataclasses.asdict(config),
              "sha256": _sha256(weights), "info": info}
    if training is not None:
        record["training"] = dataclasses.asdict(training)
    meta.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return weights


def read_config(path: str | Path) -> dict:
    """The JSON record beside a checkpoint (model name, config, sha256, info)."""
    weights, meta = _paths(path)
    if not weights.exists() or not meta.exists():
        missing = weights if not weights.exists() else meta
        raise CheckpointError(f"checkpoint file {missing} is missing; train the model again "
                              "(python -m course_lib train ...) or reinstall the course to restore "
                              "the shipped checkpoints")
    try:
        record = json.loads(meta.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{meta} is not valid JSON ({error}); delete the pair and train again") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise CheckpointError(f"{meta} is not a checkpoint record (a JSON object with a \"config\" object); "
                              "delete the pair and train again")
    return record


def verify(path: str | Path) -> None:
    """Raise ``CheckpointError`` unless the weights file is intact (its SHA-256 matches the JSON)."""
    weights, _ = _paths(path)
    record = read_config(path)
    if record.get("sha256") != _sha256(weights):
        raise CheckpointError(f"{weights} is corrupt or was changed (its SHA-256 does not match "
                              f"{weights.with_suffix('.json').name}); reinstall the course or train again")


def load(path: str | Path, model_cls: Callable[..., Model], config_cls) -> Model:
    """Rebuild a model from a checkpoint: ``model_cls(config_cls(**config))`` with the saved weights."""
    weights, _ = _paths(path)
    record = read_config(path)
    if record.get("model") != model_cls.__name__:
        raise CheckpointError(f"{weights} holds a {record.get('model')}, not a {model_cls.__name__}; "
                              "load it with the matching class")
    config = _config(record["config"], _paths(path)[1], config_cls)
    verify(path)
    model = model_cls(config)
    try:
        load_model(model, str(weights), strict=True)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({error}); "
                              "reinstall the course or train again") from None
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(f"{weights} does not fit {model_cls.__name__}({config}): {first}") from None
    return model.eval()


# JSON values a field of each simple annotated type accepts (an int is a fine float; a bool is no int)
_JSON_TYPES = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}


def _fits(value, hint) -> bool:
    """Whether the JSON ``value`` can stand for a field annotated ``hint``. Only the simple types of
    the course's configs are checked (int, float, bool, str, X | None, tuples and lists of them);
    any other annotation is left to the model to refuse."""
    origin, args = typing.get_origin(hint) or hint, typing.get_args(hint)
    if hint in _JSON_TYPES:
        return isinstance(value, _JSON_TYPES[hint]) and (hint is bool or not isinstance(value, bool))
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin in (tuple, list):
        kinds = {arg for arg in args if arg is not Ellipsis}  # one kind: check every item against it
        return isinstance(value, (list, tuple)) and (len(kinds) != 1 or all(_fits(v, *kinds) for v in value))
    return True


def _config(fields: dict, meta: Path, config_cls):
    """``config_cls(**fields)``, refusing a field whose value is not of the type the dataclass
    declares, so that a hand-edited ``"d_model": "128"`` is named here rather than failing deep in
    the model's constructor."""
    hints = typing.get_type_hints(config_cls)  # the annotations are strings under postponed evaluation
    for field in dataclasses.fields(config_cls):
        if field.name in fields and not _fits(fields[field.name], hints[field.name]):
            hint = hints[field.name]
            wanted = hint.__name__ if isinstance(hint, type) else str(hint)  # int; float | None; tuple[int, ...]
            raise CheckpointError(f"{meta} gives {field.name} = {fields[field.name]!r}, but {config_cls.__name__} "
                                  f"needs {wanted} there; put back the value it was saved with or train it again")
    try:
        return config_cls(**fields)
    except TypeError as error:
        raise CheckpointError(f"{meta} holds a config this version of {config_cls.__name__} does not accept "
                              f"({error}); train it again") from None


class Checkpointed:
    """Gives a model class one-line loading: ``GAN.from_checkpoint("gan")`` (a shipped checkpoint by
    name) or ``GAN.from_checkpoint("checkpoints/gan")`` (a path, with or without its suffix). The
    class names its config dataclass in ``config_class``; the JSON record says which class saved it."""

    config_class: type

    @classmethod
    def from_checkpoint(cls, name_or_path: str | Path):
        """The model saved at ``name_or_path``, in eval mode (``load`` says what can go wrong)."""
        return load(locate(name_or_path), cls, cls.config_class)


def locate(name_or_path: str | Path) -> Path:
    """A checkpoint's path: ``name_or_path`` itself when a file of it exists or it names a folder,
    else the shipped checkpoint of that name (``"gan"`` -> ``course_lib/data/gan.safetensors``)."""
    path = Path(name_or_path)
    weights, meta = _paths(path)
    if weights.exists() or meta.exists() or len(path.parts) > 1:
        return weights
    return shipped(path.name)


def shipped(name: str) -> Path:
    """Where the shipped checkpoint ``name`` lives (whether or not it is there)."""
    return DATA_DIR / f"{name}.safetensors"


def load_or_train(name: str, model_cls: type[Checkpointed], train: Callable[[], Model], *,
                  directory: Path | None = None) -> Model:
    """Load checkpoint ``name`` (shipped, or in ``directory``) as a ``model_cls`` if it is there, else
    call ``train()`` and say so.

    A checkpoint that is present but broken raises ``CheckpointError`` rather than being silently
    replaced: nothing is overwritten without the learner knowing.
    """
    path = (Path(directory) / f"{name}.safetensors") if directory is not None else shipped(name)
    weights, meta = _paths(path)
    if weights.exists() or meta.exists():
        model = load(path, model_cls, model_cls.config_class)
        print(f"Loaded checkpoint {weights.name} ({read_config(path).get('info', {}).get('mode', '?')} mode).")
        return model
    print(f"No checkpoint {weights.name} in {weights.parent}: training the preset instead.")
    return train()

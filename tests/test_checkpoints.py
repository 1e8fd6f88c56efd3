import dataclasses
import json

import pytest
import torch

from course_lib import checkpoints
from course_lib.checkpoints import CheckpointError


@dataclasses.dataclass
class TinyConfig:
    width: int = 4


class Tiny(torch.nn.Module):
    def __init__(self, config: TinyConfig):
        super().__init__()
        self.layer = torch.nn.Linear(config.width, 2)


class Other(Tiny):
    pass


def test_round_trip_keeps_weights_config_and_info(tmp_path):
    model = Tiny(TinyConfig(5))
    checkpoints.save(model, tmp_path / "tiny", TinyConfig(5), steps=10, mode="smoke")
    loaded = checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig)
    assert torch.equal(loaded.layer.weight, model.layer.weight) and not loaded.training
    record = checkpoints.read_config(tmp_path / "tiny.safetensors")
    assert record["config"] == {"width": 5} and record["info"] == {"steps": 10, "mode": "smoke"}
    assert (tmp_path / "tiny.safetensors").read_bytes()[:8] != b"\x80\x02\x8a\nl\xfc\x9cF"  # not a pickle


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="missing; train the model again"):
        checkpoints.load(tmp_path / "nothing", Tiny, TinyConfig)


def test_corrupt_checkpoint(tmp_path):
    checkpoints.save(Tiny(TinyConfig()), tmp_path / "tiny", TinyConfig())
    path = tmp_path / "tiny.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig)
    path.write_bytes(b"not a safetensors file")
    record = json.loads((tmp_path / "tiny.json").read_text())
    record["sha256"] = checkpoints._sha256(path)
    (tmp_path / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig)
    (tmp_path / "tiny.json").write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig)


def test_mismatched_checkpoint(tmp_path):
    checkpoints.save(Tiny(TinyConfig(4)), tmp_path / "tiny", TinyConfig(4))
    with pytest.raises(CheckpointError, match="holds a Tiny, not a Other"):
        checkpoints.load(tmp_path / "tiny", Other, TinyConfig)

    @dataclasses.dataclass
    class NewConfig:
        depth: int = 1
    with pytest.raises(CheckpointError, match="config this version"):
        checkpoints.load(tmp_path / "tiny", Tiny, NewConfig)
    record = json.loads((tmp_path / "tiny.json").read_text())
    record["config"]["width"] = 7
    (tmp_path / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not fit Tiny"):
        checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig)


def test_load_or_train_trains_when_missing_and_loads_when_present(tmp_path, capsys):
    trained = []

    def train():
        trained.append(1)
        model = Tiny(TinyConfig())
        checkpoints.save(model, tmp_path / "tiny", TinyConfig())
        return model
    checkpoints.load_or_train("tiny", Tiny, TinyConfig, train, directory=tmp_path)
    assert trained == [1] and "training the preset instead" in capsys.readouterr().out
    checkpoints.load_or_train("tiny", Tiny, TinyConfig, train, directory=tmp_path)
    assert trained == [1] and "Loaded checkpoint tiny.safetensors" in capsys.readouterr().out


def test_load_or_train_does_not_replace_a_broken_checkpoint(tmp_path):
    (tmp_path / "tiny.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointError):
        checkpoints.load_or_train("tiny", Tiny, TinyConfig, lambda: pytest.fail("trained"), directory=tmp_path)
    assert (tmp_path / "tiny.safetensors").read_bytes() == b"broken"


def test_shipped_checkpoints_are_intact():
    for weights in checkpoints.DATA_DIR.glob("*.safetensors"):
        checkpoints.verify(weights)

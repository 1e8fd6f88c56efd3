import dataclasses
import json
import re
import shutil

import pytest
import torch

from course_lib import checkpoints, paths
from course_lib.checkpoints import CheckpointError


@dataclasses.dataclass
class TinyConfig:
    width: int = 4


class Tiny(torch.nn.Module):
    config_class = TinyConfig

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


def test_the_training_config_is_recorded_beside_the_model_config(tmp_path):
    from course_lib.train import Training

    training = Training(steps=7, seconds=2.5, lr=3e-4, batch_size=8, n_train=100, seed=4)
    checkpoints.save(Tiny(TinyConfig(5)), tmp_path / "tiny", TinyConfig(5), training, mode="smoke")
    record = checkpoints.read_config(tmp_path / "tiny")
    assert record["config"] == {"width": 5} and record["info"] == {"mode": "smoke"}
    assert Training(**record["training"]) == training
    assert checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig).layer.in_features == 5  # loading reads the config only
    checkpoints.save(Tiny(TinyConfig()), tmp_path / "bare", TinyConfig())
    assert "training" not in checkpoints.read_config(tmp_path / "bare")  # no training given: no record


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
    checkpoints.load_or_train("tiny", Tiny, train, directory=tmp_path)
    assert trained == [1] and "training the preset instead" in capsys.readouterr().out
    checkpoints.load_or_train("tiny", Tiny, train, directory=tmp_path)
    assert trained == [1] and "Loaded checkpoint tiny.safetensors" in capsys.readouterr().out


def test_load_or_train_does_not_replace_a_broken_checkpoint(tmp_path):
    (tmp_path / "tiny.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointError):
        checkpoints.load_or_train("tiny", Tiny, lambda: pytest.fail("trained"), directory=tmp_path)
    assert (tmp_path / "tiny.safetensors").read_bytes() == b"broken"


SHIPPED = ("ae", "ae2d", "vae", "vae2d", "cvae", "gan", "text_gan", "vqvae", "vqgan", "bart", "clip", "dalle",
           "diffusion", "glide", "unclip", "imagen")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoints_are_there_and_intact(name):
    for suffix in (".safetensors", ".json"):
        path = checkpoints.DATA_DIR / f"{name}{suffix}"
        assert path.is_file(), f"the shipped checkpoint {path.name} is missing from {checkpoints.DATA_DIR}"
    checkpoints.verify(checkpoints.DATA_DIR / f"{name}.safetensors")


def test_the_shipped_caption_tokenizer_is_there():
    path = checkpoints.DATA_DIR / "caption_tokenizer.json"
    assert path.is_file(), f"the shipped caption tokenizer {path.name} is missing from {checkpoints.DATA_DIR}"
    from course_lib import text

    assert text.TOKENIZER_FILE == path and text.load_tokenizer(path)("a red circle")["input_ids"]


@dataclasses.dataclass
class RichConfig:  # string annotations, as under ``from __future__ import annotations``
    width: "int" = 4
    seconds: "float | None" = None
    sizes: "tuple[int, ...]" = (1, 2)
    name: "str" = "rich"
    ema: "bool" = True


class Rich(torch.nn.Module):
    def __init__(self, config: RichConfig):
        super().__init__()
        self.layer = torch.nn.Linear(config.width, 2)


def _rewrite(meta, record):
    meta.write_text(json.dumps(record))


@pytest.mark.parametrize("record", [[], {"model": "Tiny", "sha256": "0"}, {"model": "Tiny", "config": [4]}])
def test_a_config_file_that_is_no_checkpoint_record(tmp_path, record):
    checkpoints.save(Tiny(TinyConfig()), tmp_path / "tiny", TinyConfig())
    _rewrite(tmp_path / "tiny.json", record)
    message = re.escape(f"{tmp_path / 'tiny.json'} is not a checkpoint record") + ".*train again"
    with pytest.raises(CheckpointError, match=message):
        checkpoints.load(tmp_path / "tiny", Tiny, TinyConfig)


@pytest.mark.parametrize("field, value, wanted", [
    ("width", "4", "int"), ("width", True, "int"), ("width", 4.0, "int"), ("width", None, "int"),
    ("seconds", "1", "float | None"), ("sizes", ["a"], "tuple[int, ...]"), ("sizes", 3, "tuple[int, ...]"),
    ("name", 3, "str"), ("ema", 1, "bool"),
])
def test_a_config_field_of_the_wrong_type_names_the_file(tmp_path, field, value, wanted):
    checkpoints.save(Rich(RichConfig()), tmp_path / "rich", RichConfig())
    record = json.loads((tmp_path / "rich.json").read_text())
    record["config"][field] = value
    _rewrite(tmp_path / "rich.json", record)
    with pytest.raises(CheckpointError, match=re.escape(
            f"{tmp_path / 'rich.json'} gives {field} = {value!r}, but RichConfig needs {wanted} there; ")):
        checkpoints.load(tmp_path / "rich", Rich, RichConfig)


def test_config_values_of_the_right_type_load(tmp_path):
    config = RichConfig(width=3, seconds=2, sizes=(5,), name="x", ema=False)  # an int is a fine float
    checkpoints.save(Rich(config), tmp_path / "rich", config)
    assert checkpoints.load(tmp_path / "rich", Rich, RichConfig).layer.in_features == 3


def test_every_shipped_checkpoint_loads_with_its_classes():
    from course_lib import autoencoder, bart, clip, dalle, diffusion, gan, glide, text_gan, unclip, vqgan, vqvae

    classes = {"Autoencoder": (autoencoder.Autoencoder, autoencoder.AEConfig),
               "VAE": (autoencoder.VAE, autoencoder.VAEConfig),
               "ConditionalVAE": (autoencoder.ConditionalVAE, autoencoder.VAEConfig),
               "CaptionToImageBart": (bart.CaptionToImageBart, bart.TranslatorConfig),
               "ShapesCLIP": (clip.ShapesCLIP, clip.ClipConfig), "GAN": (gan.GAN, gan.GANConfig),
               "TextGAN": (text_gan.TextGAN, text_gan.TextGANConfig), "VQGAN": (vqgan.VQGAN, vqgan.VQGANConfig),
               "VQVAE": (vqvae.VQVAE, vqvae.VQVAEConfig),
               "CaptionToImageGPT": (dalle.CaptionToImageGPT, dalle.DalleConfig),
               "Diffusion": (diffusion.Diffusion, diffusion.DiffusionConfig), "Glide": (glide.Glide, glide.GlideConfig),
               "UnCLIP": (unclip.UnCLIP, unclip.UnclipConfig)}
    shipped = sorted(checkpoints.DATA_DIR.glob("*.safetensors"))
    assert len(shipped) >= 11
    for weights in shipped:
        checkpoints.load(weights, *classes[checkpoints.read_config(weights)["model"]])


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_checkpoint_records_the_training_it_had(name):
    from course_lib import stages

    record = checkpoints.read_config(checkpoints.shipped(name))
    training_class = type(stages.preset(name, record["info"]["mode"]).training)
    training = training_class(**record["training"])  # every field one the stage's training config knows
    assert training.steps >= 1 and training.n_train >= 1
    assert not set(record["training"]) & set(record["config"])  # architecture and training kept apart


@pytest.mark.parametrize("content", ["{", '{"version": "1.0", "model": 3}'])
def test_a_broken_caption_tokenizer_names_the_file(tmp_path, content):
    from course_lib import text

    path = tmp_path / "caption_tokenizer.json"
    shutil.copy(text.TOKENIZER_FILE, path)
    assert text.load_tokenizer(path)("a red circle")["input_ids"]  # the copy itself is fine
    path.write_text(content)
    message = re.escape(f"caption tokenizer {path} cannot be read") + ".*save_tokenizer"
    with pytest.raises(CheckpointError, match=message):
        text.load_tokenizer(path)


def test_from_checkpoint_loads_a_shipped_model_by_name_and_refuses_another_class():
    from course_lib import gan, vqgan

    model = gan.GAN.from_checkpoint("gan")
    assert isinstance(model, gan.GAN) and not model.training
    assert checkpoints.locate("gan") == checkpoints.shipped("gan")
    with pytest.raises(CheckpointError, match="holds a VQGAN, not a GAN"):
        gan.GAN.from_checkpoint("vqgan")
    with pytest.raises(CheckpointError, match="is missing"):
        vqgan.VQGAN.from_checkpoint("no/such/vqgan")


SHIPPED_BUDGET_BYTES = 50 * 10**6  # the README's budget for course_lib/data: every pip install and clone carries it


def test_the_shipped_files_stay_within_their_budget_and_are_safetensors_or_json():
    files = [path for path in paths.DATA_DIR.rglob("*") if path.is_file()]
    total = sum(path.stat().st_size for path in files)
    assert total <= SHIPPED_BUDGET_BYTES, (
        f"course_lib/data holds {total / 1e6:.1f} MB, over its {SHIPPED_BUDGET_BYTES / 1e6:.0f} MB budget: "
        "make a checkpoint smaller, or raise the budget in the README and here with a reason")
    assert {path.suffix for path in files} <= {".safetensors", ".json"}, sorted(path.name for path in files)

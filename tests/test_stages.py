"""Every stage follows the one shape ``course_lib.stages`` describes, and its recipe trains, measures and
saves what the table says (issue #21)."""
import dataclasses
import inspect
import json

import pytest
import torch

from course_lib import __main__ as cli
from course_lib import checkpoints, stages
from course_lib.checkpoints import Checkpointed
from course_lib.train import Preset, Training

from benchmarks import stages as bench


def test_the_command_line_offers_exactly_the_table():
    assert set(cli.STAGE_NAMES) == set(stages.STAGES)
    assert set(cli.TRAIN_MODES) <= set(stages.MODES)


@pytest.mark.parametrize("name", sorted(stages.STAGES))
def test_each_stage_module_has_the_shape(name):
    stage = stages.STAGES[name]
    module = stage.module
    for part in ("make_step", "train", "evaluate"):
        assert callable(getattr(module, part, None)), f"{module.__name__} has no {part}"
        assert not getattr(module, part).__name__.startswith("_")
    assert list(inspect.signature(module.make_step).parameters)[0] == "model"
    assert issubclass(stage.model, Checkpointed) and stage.model.config_class is not None
    assert set(stage.needs) <= set(stages.STAGES) and name not in stage.needs
    assert stage.metrics


@pytest.mark.parametrize("name", ["gan", "text_gan", "clip", "bart", "vqvae", "vqgan"])
def test_presets_carry_the_four_modes(name):
    module = stages.STAGES[name].module
    assert set(stages.MODES) <= set(module.PRESETS)
    assert all(isinstance(p, Preset) and isinstance(p.training, Training) for p in module.PRESETS.values())


@pytest.mark.parametrize("name", sorted(stages.STAGES))
def test_every_stage_splits_its_preset_into_model_and_training_configs(name):
    stage = stages.STAGES[name]
    for mode in stages.MODES:
        config, training = stages.preset(name, mode)
        assert isinstance(config, stage.model.config_class) and isinstance(training, Training)
        assert training.budget.steps == training.steps and training.budget.seconds == training.seconds
        assert not {f.name for f in dataclasses.fields(config)} & {f.name for f in dataclasses.fields(training)}
    config, training = stages.preset(name, "tiny")
    training.steps += 1  # a copy: changing it leaves the table alone
    assert stages.preset(name, "tiny").training.steps == training.steps - 1
    with pytest.raises(ValueError, match="workshop"):
        stages.preset(name, "huge")
    with pytest.raises(ValueError, match="unknown stage"):
        stages.preset("dragon", "tiny")


def test_the_benchmark_loads_every_stage_it_measures_through_the_table():
    for name, (needed, _) in bench.STAGES.items():
        assert set(needed) <= set(stages.STAGES), name
    source = inspect.getsource(bench)
    assert "optim.AdamW" not in source and "train_step(" not in source  # the library's steps, not copies


NEEDS = {"clip": checkpoints.shipped("clip")}


@pytest.mark.parametrize("name", ["gan", "text_gan", "clip", "ae"])
def test_fitting_a_stage_is_seeded_and_leaves_the_callers_random_state_alone(name):
    """Constructors draw from torch's generator; ``Stage.fit`` builds and trains under ``training.seed``
    (``train.seeded``), so the same preset gives the same model and the caller's next draw is unchanged."""
    stage = stages.STAGES[name]
    needs = {need: NEEDS[need] for need in stage.needs}
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first, training, history = stage.fit("tiny", needs)
    assert torch.equal(torch.rand(3), expected)
    assert training == stage.preset("tiny").training and history.steps == training.steps and not first.training
    torch.manual_seed(7)  # another caller state: the same model all the same
    again, _, _ = stage.fit("tiny", needs)
    assert first.state_dict().keys() == again.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))


def test_train_and_save_records_the_stage_metrics(tmp_path, capsys):
    path = stages.train_and_save("gan", "tiny", tmp_path)
    record = json.loads(path.with_suffix(".json").read_text())
    assert set(record["info"]) >= set(stages.STAGES["gan"].metrics) | {"mode", "steps", "seconds", "losses"}
    assert record["info"]["mode"] == "tiny" and record["model"] == "GAN"
    assert "gan (tiny)" in capsys.readouterr().out
    config, training = stages.STAGES["gan"].module.preset("tiny")
    assert record["config"] == dataclasses.asdict(config) and record["training"] == dataclasses.asdict(training)
    assert stages.STAGES["gan"].model.from_checkpoint(path).config == config


@pytest.mark.slow
def test_every_stage_trains_and_measures_what_the_table_says(tmp_path):
    """Table order trains what a stage needs first (vqvae before vqgan before bart), all in one folder."""
    for name, stage in stages.STAGES.items():
        record = json.loads(stages.train_and_save(name, "tiny", tmp_path).with_suffix(".json").read_text())
        figures = set(record["info"]) - {"mode", "steps", "seconds", "device", "losses"}
        assert figures == set(stage.metrics), name


def test_fit_preset_is_what_a_notebook_trains_when_a_checkpoint_is_missing(tmp_path, capsys):
    model = checkpoints.load_or_train("gan", stages.STAGES["gan"].model, directory=tmp_path,
                                      train=lambda: stages.fit_preset("gan", "tiny"))
    assert "training the preset instead" in capsys.readouterr().out
    assert isinstance(model, stages.STAGES["gan"].model) and not model.training
    assert model.config == stages.preset("gan", "tiny").config
    assert all(p.device.type == "cpu" for p in model.parameters())  # as a loaded checkpoint is

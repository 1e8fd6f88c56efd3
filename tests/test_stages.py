"""Every stage follows the one shape ``course_lib.stages`` describes, and its recipe trains, measures and
saves what the table says (issue #21)."""
import inspect
import json

import pytest
import torch

from course_lib import __main__ as cli
from course_lib import stages
from course_lib.checkpoints import Checkpointed

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


@pytest.mark.parametrize("name", ["gan", "text_gan", "clip", "bart"])
def test_presets_carry_the_four_modes(name):
    module = stages.STAGES[name].module
    assert set(stages.MODES) <= set(module.PRESETS)


def test_the_benchmark_loads_every_stage_it_measures_through_the_table():
    for name, (needed, _) in bench.STAGES.items():
        assert set(needed) <= set(stages.STAGES), name
    source = inspect.getsource(bench)
    assert "optim.AdamW" not in source and "train_step(" not in source  # the library's steps, not copies


def test_building_a_model_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for name in ("gan", "text_gan", "clip"):
        stages.STAGES[name].model(stages.STAGES[name].module.PRESETS["tiny"])
    assert torch.equal(torch.rand(3), expected)


def test_train_and_save_records_the_stage_metrics(tmp_path, capsys):
    path = stages.train_and_save("gan", "tiny", tmp_path)
    record = json.loads(path.with_suffix(".json").read_text())
    assert set(record["info"]) >= set(stages.STAGES["gan"].metrics) | {"mode", "steps", "seconds", "losses"}
    assert record["info"]["mode"] == "tiny" and record["model"] == "GAN"
    assert "gan (tiny)" in capsys.readouterr().out
    assert stages.STAGES["gan"].model.from_checkpoint(path).config == stages.STAGES["gan"].module.preset("tiny")


@pytest.mark.slow
def test_every_stage_trains_and_measures_what_the_table_says(tmp_path):
    """Table order trains what a stage needs first (vqvae before vqgan before bart), all in one folder."""
    for name, stage in stages.STAGES.items():
        record = json.loads(stages.train_and_save(name, "tiny", tmp_path).with_suffix(".json").read_text())
        figures = set(record["info"]) - {"mode", "steps", "seconds", "device", "losses"}
        assert figures == set(stage.metrics), name

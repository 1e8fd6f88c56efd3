"""Ablation records: written, read back, printed, and refused when missing or corrupt."""
import json

import pytest

from course_lib import ablations


def test_round_trip_and_table(tmp_path):
    arms = {"recipe": {"sharpness": 0.61, "recon_agreement": 0.98},
            "disc_weight=0": {"sharpness": 0.52, "recon_agreement": 0.99}}
    ablations.save("demo", "what does D add?", arms, {"steps": 10}, 3.2, folder=tmp_path)
    record = ablations.load("demo", folder=tmp_path)
    assert record["arms"] == arms and record["budget"] == {"steps": 10}
    assert record["measured"]["seconds"] == 3.2
    text = ablations.table(record, ["sharpness"])
    assert "disc_weight=0" in text and "0.520" in text and "recon_agreement" not in text


def test_table_keeps_small_figures_apart(tmp_path):
    arms = {"a": {"sharpness": 0.00974, "perplexity": 96.7}, "b": {"sharpness": 0.00791, "perplexity": 79.2}}
    ablations.save("small", "q", arms, {}, 1.0, folder=tmp_path)
    text = ablations.table(ablations.load("small", folder=tmp_path))
    assert "0.00974" in text and "0.00791" in text and "96.700" in text


def test_missing_record_names_what_is_shipped(tmp_path):
    ablations.save("demo", "q", {"a": {"x": 1.0}}, {}, 1.0, folder=tmp_path)
    with pytest.raises(ablations.AblationError, match=r"no ablation 'other'.*shipped: demo"):
        ablations.load("other", folder=tmp_path)


def test_corrupt_record_is_refused(tmp_path):
    ablations.path("bad", tmp_path).write_text(json.dumps({"name": "bad"}))
    with pytest.raises(ablations.AblationError, match="not an ablation record"):
        ablations.load("bad", folder=tmp_path)
    with pytest.raises(ablations.AblationError, match="no arms"):
        ablations.save("empty", "q", {}, {}, 1.0, folder=tmp_path)


def test_long_figure_names_stay_apart_and_markdown_shows_the_same_cells(tmp_path):
    arms = {"wrong pair": {"caption_acc_seen": 0.25, "caption_acc_heldout": 0.125},
            "no wrong pair": {"caption_acc_seen": 0.2, "caption_acc_heldout": 0.0625}}
    ablations.save("long", "q", arms, {}, 1.0, folder=tmp_path)
    record = ablations.load("long", folder=tmp_path)
    assert "caption_acc_seen  caption_acc_heldout" in ablations.table(record)
    lines = ablations.markdown(record).splitlines()
    assert lines[0] == "| arm | `caption_acc_seen` | `caption_acc_heldout` |"
    assert lines[2:4] == ["| wrong pair | 0.250 | 0.125 |", "| no wrong pair | 0.200 | 0.062 |"]

"""The closing leaderboard (course_lib.leaderboard, python -m benchmarks.leaderboard): every system it finds
is measured under the shared figure names, a missing checkpoint is skipped with a line, the table
marks what a system cannot draw, and the shipped record is the one the README shows."""
import contextlib
import json

import pytest
import torch

from benchmarks import leaderboard as command
from benchmarks import report
from course_lib import leaderboard
from test_benchmarks import _save_tiny_checkpoints

SHARES = [f"caption_acc_{tag}_{kind}" for tag in ("seen", "heldout") for kind in ("one", "two")]
SWAPS = [f"swap_{kind}_{tag}" for kind in ("colour", "shape", "position") for tag in ("seen", "heldout")]
BEST = [f"{name}_{tag}_{kind}" for name in ("best_of_16", "oracle_best_of_16") for tag in ("seen", "heldout")
        for kind in ("one", "two")]
EVERY_ROW = ["diversity", "variety", "parameters", "seconds_per_picture"]
FULL = set(SHARES + SWAPS + BEST + EVERY_ROW)  # a system that draws both kinds and is ranked by CLIP
ONE_OBJECT = {name for name in FULL if "two" not in name and not name.startswith("swap_")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The command on tiny random-weight checkpoints (no unCLIP, no Imagen): (status, output, record, README)."""
    root = tmp_path_factory.mktemp("leaderboard")
    _save_tiny_checkpoints(root / "ckpt")
    capture = root / "out.txt"
    with capture.open("w") as out, contextlib.redirect_stdout(out):
        status = command.main(["--budget", "tiny", "--checkpoints", str(root / "ckpt"),
                               "--record", str(root / "leaderboard.json"), "--readme", str(root / "README.md")])
    return (status, capture.read_text(), json.loads((root / "leaderboard.json").read_text()),
            (root / "README.md").read_text())


@pytest.mark.slow  # the command on every system: half a minute
def test_every_system_with_checkpoints_is_measured_and_the_others_skipped_with_a_line(run):
    status, output, record, _ = run
    assert status == 0
    assert set(record["rows"]) == {"text_gan", "cvae", "bart", "dalle", "vqgan_clip", "clip_guidance", "glide"}
    for key in ("unclip", "imagen"):
        assert f"{key}: skipped, no checkpoint {key} in" in output
        assert key not in record["measured"]


@pytest.mark.slow  # the command on every system: half a minute
def test_every_row_has_the_shared_names_and_numbers_in_range(run):
    rows = run[2]["rows"]
    for key in ("bart", "dalle", "glide", "clip_guidance"):
        assert set(rows[key]) == FULL, key
    for key in ("text_gan", "cvae"):  # one object only: no two-object figure, no swap
        assert set(rows[key]) == ONE_OBJECT, key
    assert set(rows["vqgan_clip"]) == FULL - set(BEST)  # optimised per picture: no best of 16
    for key, row in rows.items():
        for name, value in row.items():
            if name in ("variety",):
                assert 0 <= value <= leaderboard.CANDIDATES
            elif name in ("diversity", "parameters", "seconds_per_picture"):
                assert value > 0, (key, name)
            else:
                assert 0 <= value <= 1, (key, name, value)
        assert "training_seconds" not in row  # tiny checkpoints record no training time


@pytest.mark.slow  # the command on every system: half a minute
def test_the_readme_gets_the_table_with_date_and_machine(run):
    readme, record = run[3], run[2]
    assert report.LEADERBOARD_START in readme and report.LEADERBOARD_END in readme
    assert "| GLIDE (Nichol et al. 2021) | 12 |" in readme
    assert record["measured"]["glide"].split(" (")[0] in readme and report.machine(torch.device("cpu")) in readme


def test_the_table_marks_what_a_system_cannot_draw_and_shows_shares_in_percent():
    record = {"rows": {"text_gan": {"caption_acc_seen_one": 0.875, "caption_acc_heldout_one": 0.5, "parameters": 1234},
                       "imagen": {"caption_acc_seen_one": 1.0, "caption_acc_seen_two": 0.765}},
              "measured": {"imagen": "today"}}
    lines = leaderboard.markdown(record).splitlines()
    gan_cls = next(line for line in lines if line.startswith("| GAN-CLS"))
    cells = [cell.strip() for cell in gan_cls.split("|")[3:-1]]
    assert cells[:4] == ["87.5", "–", "50.0", "–"] and "1k" in cells
    assert lines.index(gan_cls) < lines.index(next(line for line in lines if line.startswith("| Imagen")))
    assert "- Imagen-style (frozen BART encoder): today" in lines


def test_the_ranking_puts_the_highest_first_ties_in_course_order_and_leaves_out_rows_without_it():
    record = {"rows": {"imagen": {"x": 0.5}, "glide": {"x": 0.9}, "bart": {"x": 0.5}, "cvae": {}}}
    assert leaderboard.ranking(record, "x") == [("glide", 0.9), ("bart", 0.5), ("imagen", 0.5)]


def test_parameters_count_a_shared_tensor_once():
    layer = torch.nn.Linear(3, 2)
    assert leaderboard.parameters([layer, torch.nn.Sequential(layer)]) == 8


def test_the_command_needs_a_clip_to_rank_and_says_so(tmp_path, capsys):
    assert command.main(["--budget", "tiny", "--checkpoints", str(tmp_path), "--record", str(tmp_path / "r.json"),
                         "--readme", str(tmp_path / "README.md")]) == 2
    assert "no clip checkpoint in" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_the_shipped_record_has_every_system_at_the_full_budget_and_is_the_readmes_table():
    record = leaderboard.load()
    assert set(record["rows"]) == {system.key for system in leaderboard.SYSTEMS}
    assert all("(full budget" in when for when in record["measured"].values())
    for system in leaderboard.SYSTEMS:
        assert record["rows"][system.key]["training_seconds"] > 0
    readme = (command.HERE / "README.md").read_text()
    assert leaderboard.markdown(record) in readme


def test_a_missing_record_says_which_command_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `python -m benchmarks.leaderboard`"):
        leaderboard.load(tmp_path / "leaderboard.json")

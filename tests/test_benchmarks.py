"""The benchmark harness runs end to end on tiny random-weight checkpoints and writes what it promises.

Random weights draw nothing right, so these tests check the harness (keys, ranges, files, skipping),
not quality; the quality figures are benchmarks/README.md's job.
"""
import dataclasses
import json

import pytest
import torch

from benchmarks import run, vq_peer
from course_lib import autoencoder, bart, checkpoints, clip, dalle, diffusion, gan, glide, text_gan, vqgan, vqvae

# the figures issue 9 names (so results stay comparable over time), per-kind ones, the partial prompts
# of issue 20 (one sample, CLIP's best of 16, variety), and the VQ comparison
REQUIRED = {
    "gan": ["validity", "coverage"],
    "text_gan": ["caption_acc_seen", "caption_acc_heldout", "best_of_16_seen", "partial_random_seen",
                 "partial_best_of_16_seen", "partial_best_of_16_heldout", "partial_variety_seen_one"],
    "ae": ["recon_agreement"],
    "vae": ["recon_agreement", "prior_validity"],
    "cvae": ["caption_acc_seen", "partial_random_seen", "partial_best_of_16_seen", "partial_variety_seen"],
    "vqvae": ["recon_agreement"],
    "vqgan": ["recon_agreement", "code_usage", "perplexity"],
    "bart": ["caption_acc_seen", "caption_acc_heldout", "caption_acc_seen_one", "caption_acc_seen_two",
             "caption_acc_heldout_one", "caption_acc_heldout_two", "partial_caption_acc_seen_one",
             "partial_caption_acc_seen_two", "partial_caption_acc_heldout"],
    "clip": ["zeroshot_color", "zeroshot_shape", "retrieval_r1"],
    "pipeline": ["random_seen", "best_of_16_seen", "best_of_16_heldout", "random_heldout", "lift_heldout",
                 "best_of_16_seen_one", "best_of_16_seen_two", "partial_random_seen", "partial_best_of_16_seen",
                 "partial_best_of_16_heldout", "partial_lift_heldout", "partial_variety_seen_one",
                 "example_right", "example_sizes", "example_cells"],
    "dalle": ["caption_acc_seen", "caption_acc_heldout", "caption_acc_seen_one", "caption_acc_heldout_two",
              "partial_caption_acc_heldout"],
    "pipeline_dalle": ["best_of_16_seen", "best_of_16_heldout", "lift_heldout", "random_heldout"],
    "diffusion": ["validity", "coverage", "sharpness", "ddpm_validity", "ddim50_coverage", "ddim10_validity",
                  "ddpm_seconds_per_picture", "ddim10_seconds_per_picture"],
    "glide": ["caption_acc_seen_one", "caption_acc_heldout_two", "partial_caption_acc_seen", "s0_caption_acc_seen",
              "s8_caption_acc_heldout_two", "best_of_16_seen", "random_heldout_two"],
    "vqgan_clip": ["caption_acc_seen_one", "plain_caption_acc_heldout_two", "fooled_seen_two", "plain_fooled_heldout_one",
                   "validity_seen_one", "plain_validity_heldout_two"],
    "clip_guidance": ["s0_caption_acc_seen_one", "s0.3_validity_heldout_two", "s1.0_caption_acc_heldout_one",
                      "glide_caption_acc_seen_two", "glide_validity_heldout_one"],
    "vq_peer": ["ours_recon_agreement", "peer_recon_agreement", "ours_code_usage", "peer_code_usage",
                "ours_perplexity", "peer_perplexity", "ours_train_steps_per_s", "peer_train_steps_per_s"],
}


def _save_tiny_checkpoints(directory):
    """Random-weight models of every stage, saved as the harness expects to find them."""
    torch.manual_seed(0)
    codebook = 16
    tokenizer_config = dataclasses.replace(vqgan.preset("smoke").config, codebook_size=codebook)
    models = {"gan": gan.GAN(gan.preset("tiny").config), "text_gan": text_gan.TextGAN(text_gan.preset("tiny").config),
              "vqvae": vqvae.VQVAE(dataclasses.replace(vqvae.preset("smoke").config, codebook_size=codebook)),
              "vqgan": vqgan.VQGAN(tokenizer_config),
              "bart": bart.CaptionToImageBart(dataclasses.replace(bart.PRESETS["tiny"].config, codebook_size=codebook,
                                                                  image_tokens=64)),
              "clip": clip.ShapesCLIP(clip.PRESETS["tiny"].config),
              "dalle": dalle.CaptionToImageGPT(dataclasses.replace(dalle.PRESETS["tiny"].config, codebook_size=codebook,
                                                                   image_tokens=64)),
              "diffusion": diffusion.Diffusion(diffusion.preset("tiny").config),
              "glide": glide.Glide(glide.preset("tiny").config)}
    for name, model_cls in (("ae", autoencoder.Autoencoder), ("vae", autoencoder.VAE),
                            ("cvae", autoencoder.ConditionalVAE)):
        models[name] = model_cls(autoencoder.preset(name, "smoke").config)
    for name, model in models.items():
        checkpoints.save(model, directory / name, model.config, mode="test")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """One tiny-budget run of every stage; returns (exit status, results record, README text)."""
    root = tmp_path_factory.mktemp("bench")
    _save_tiny_checkpoints(root / "ckpt")
    status = run.main(["--stage", "all", "--budget", "tiny", "--checkpoints", str(root / "ckpt"),
                       "--results", str(root / "results"), "--readme", str(root / "README.md")])
    return status, json.loads((root / "results" / "cpu.json").read_text()), (root / "README.md").read_text()


def test_every_stage_runs(harness):
    status, record, _ = harness
    assert status == 0
    assert set(REQUIRED) <= set(record)


@pytest.mark.parametrize("stage", sorted(REQUIRED))
def test_required_figures_are_there_and_in_range(harness, stage):
    figures = harness[1][stage]
    for metric in REQUIRED[stage]:
        value = figures[metric]
        if metric.endswith("_per_s"):
            assert value > 0
        elif "perplexity" in metric:
            assert value >= 1.0
        elif "lift" in metric:
            assert -1.0 <= value <= 1.0
        elif "variety" in metric or metric.startswith("example_"):  # counts of candidates (of 16)
            assert 0 <= value <= 16
        else:
            assert 0.0 <= value <= 1.0, f"{stage}.{metric} = {value} is not a share"
    timings = [m for m in figures if m.endswith("_per_s") or "seconds" in m]
    assert timings and all(figures[m] > 0 for m in timings)


def test_readme_gets_a_table_with_the_machine(harness):
    readme = harness[2]
    assert run.report.START in readme and run.report.END in readme
    assert "| gan | validity |" in readme and "| pipeline | lift_heldout |" in readme
    assert harness[1]["meta"]["machine"] in readme


def test_a_missing_checkpoint_is_skipped_with_a_line(tmp_path, capsys):
    status = run.main(["--stage", "gan", "--budget", "tiny", "--checkpoints", str(tmp_path / "empty"),
                       "--results", str(tmp_path / "results"), "--readme", str(tmp_path / "README.md")])
    assert status == 0
    assert "gan: skipped, no checkpoint gan" in capsys.readouterr().out
    assert "gan" not in json.loads((tmp_path / "results" / "cpu.json").read_text())


def test_the_peer_quantizer_keeps_our_interface():
    torch.manual_seed(0)
    model = vq_peer.build(dataclasses.replace(vqvae.preset("smoke").config, codebook_size=16), peer=True).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        reconstruction, out = model(images)
    assert out.ids.shape == (2, 8, 8) and out.z_q.shape[2:] == (8, 8)
    assert torch.allclose(model.decode(out.ids), reconstruction.clamp(0, 1), atol=1e-5)


def test_notebook_times_go_to_the_results_and_a_broken_notebook_is_reported(tmp_path):
    import nbformat

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nassert os.environ['COURSE_MODE'] == 'workshop'")])
    nbformat.write(notebook, notebooks / "01_ok.ipynb")
    notebook.cells[0].source = "raise ValueError('broken')"
    nbformat.write(notebook, notebooks / "02_broken.ipynb")
    status = run.main(["--stage", "none", "--notebooks", "--notebook-dir", str(notebooks), "--site", str(tmp_path / "site"),
                       "--results", str(tmp_path / "results"), "--readme", str(tmp_path / "README.md")])
    assert status == 1
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["01_ok.html", "index.html"]  # the same run, rendered
    record = json.loads((tmp_path / "results" / "cpu.json").read_text())
    timings = record["notebook_seconds"]
    assert list(timings) == ["01_ok"] and timings["01_ok"] > 0
    assert [k for k in record["meta"]["measured"] if k.startswith("notebook")] == ["notebook 01_ok"]
    assert "| 01_ok |" in (tmp_path / "README.md").read_text()


def test_the_readme_shows_every_shipped_ablation_as_its_record_says():
    """benchmarks/README.md's ablation tables are generated from course_lib/data/ablation_*.json: a
    record re-run (or added) without `python -m benchmarks.report` fails here."""
    from pathlib import Path

    from benchmarks import report
    from course_lib.paths import DATA_DIR

    readme = (Path(report.__file__).parent / "README.md").read_text()
    section = readme.split(report.ABLATIONS_START, 1)[1].split(report.ABLATIONS_END, 1)[0].strip("\n")
    assert section == report.ablation_section(), "run `python -m benchmarks.report`"
    for record in DATA_DIR.glob("ablation_*.json"):
        assert f"### {record.stem.removeprefix('ablation_')}: " in section


def test_the_ablation_section_is_rebuilt_between_its_markers(tmp_path):
    from benchmarks import report
    from course_lib import ablations

    ablations.save("demo", "what does D add?", {"recipe": {"sharpness": 0.5}, "no D": {"sharpness": 0.25}},
                   {"steps": 10, "arms": {"no D": {"disc_weight": 0.0}}}, 2.0, folder=tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.START}\n{report.END}\n{report.ABLATIONS_START}\nstale\n{report.ABLATIONS_END}\nafter\n")
    report.update_readme(readme, tmp_path / "no-results", data_dir=tmp_path)
    text = readme.read_text()
    assert "stale" not in text and text.startswith("intro\n") and text.endswith("after\n")
    assert "### demo: what does D add?" in text and "| no D | 0.250 |" in text
    assert "Budget: steps: 10; arms: no D = disc_weight 0.0." in text

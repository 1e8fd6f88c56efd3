"""Imagen in miniature (course_lib.imagen): the frozen BART encoder in GLIDE's model, the random-tower
floor, and dynamic thresholding against its formula and against diffusers'."""
import json

import pytest
import torch

from course_lib import bart, checkpoints, diffusion_process, glide, imagen, stages
from test_glide import fresh as glide_fresh


def fresh(**changes):
    return glide_fresh(imagen.preset, **changes)


@pytest.fixture(scope="module")
def tiny():
    model, training = fresh()
    return glide.train(model, training, progress=False)[0]


def test_the_bart_encoder_is_the_shipped_bart_s_frozen():
    model, training = fresh()
    shipped = bart.CaptionToImageBart.from_checkpoint("bart").bart.get_encoder().state_dict()
    ours = model.text.encoder.state_dict()
    assert ours.keys() == shipped.keys() and all(torch.equal(ours[k], shipped[k][:len(ours[k])]) for k in ours)
    assert len(ours["embed_tokens.weight"]) == len(model.text.tokenizer) < len(shipped["embed_tokens.weight"])
    assert not any(p.requires_grad for p in model.text.parameters())
    before = {k: v.clone() for k, v in model.text.state_dict().items()}
    trained, _ = glide.train(model, training, progress=False)
    assert all(torch.equal(before[k], v) for k, v in trained.text.state_dict().items())


def test_the_bart_caption_has_a_mean_pooled_embedding_and_padded_tokens(tiny):
    caption = tiny.encode_text(["a red circle", "a big blue square above a small green triangle"])
    assert caption.tokens.shape == (2, tiny.text.max_tokens, tiny.config.text_width)
    real = caption.mask[0]
    assert real.sum() == 5  # <s> a red circle </s>
    assert torch.allclose(caption.pooled[0], caption.tokens[0][real].mean(0), atol=1e-5)
    assert tiny.encode_text([""]).tokens.shape[1] == caption.tokens.shape[1]  # guidance stacks both


def test_the_random_tower_is_frozen_at_its_initial_weights():
    model, training = fresh(text="random")
    before = {k: v.clone() for k, v in model.text.state_dict().items()}
    trained, _ = glide.train(model, training, progress=False)
    assert not any(p.requires_grad for p in trained.text.parameters())
    assert all(torch.equal(before[k], v) for k, v in trained.text.state_dict().items())


def test_a_bart_that_does_not_fit_is_refused(tmp_path):
    record = checkpoints.read_config(checkpoints.shipped("bart"))
    (tmp_path / "bart.safetensors").write_bytes(checkpoints.shipped("bart").read_bytes())
    (tmp_path / "bart.json").write_text(json.dumps({**record, "config": {**record["config"], "max_text_tokens": 8}}))
    with pytest.raises(checkpoints.CheckpointError, match="does not fit this encoder"):
        imagen.with_bart_sizes(glide.GlideConfig(), tmp_path / "bart")


def test_the_encoder_takes_any_bart_s_sizes(tmp_path):
    stages.train_and_save("bart", "tiny", tmp_path / "tiny")  # 32 wide, its own codebook and feed-forward width
    config = imagen.with_bart_sizes(imagen.preset("tiny").config, tmp_path / "tiny" / "bart")
    model = glide.build(config, bart_checkpoint=tmp_path / "tiny" / "bart")
    assert model.encode_text(["a red circle"]).tokens.shape[-1] == 32 and model.config.text_ffn == 64


def test_dynamic_thresholding_is_the_formula_and_diffusers():
    from diffusers import DDIMScheduler

    x0 = torch.randn(4, 3, 5, 5) * torch.tensor([0.2, 1.0, 3.0, 10.0]).view(4, 1, 1, 1)
    ours = diffusion_process.dynamic_threshold(x0)
    for i in range(4):
        s = max(1.0, torch.quantile(x0[i].abs().flatten(), diffusion_process.DYNAMIC_PERCENTILE).item())
        assert torch.allclose(ours[i], x0[i].clamp(-s, s) / s, atol=1e-6)
    assert torch.equal(ours[0], x0[0].clamp(-1, 1))  # nothing beyond 1 at the percentile: static clipping
    assert ours.abs().max() <= 1 + 1e-6
    theirs = DDIMScheduler(thresholding=True, dynamic_thresholding_ratio=diffusion_process.DYNAMIC_PERCENTILE,
                           sample_max_value=1e6)._threshold_sample(x0)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_the_sampler_thresholds_dynamically_when_asked(tiny):
    static = tiny.scheduler("ddim")
    dynamic = tiny.scheduler("ddim", dynamic=True)
    assert static.config.clip_sample and not static.config.thresholding
    assert dynamic.config.thresholding and not dynamic.config.clip_sample
    a = tiny.sample(["a red circle"] * 2, scale=8, steps=3, seed=1)
    b = tiny.sample(["a red circle"] * 2, scale=8, steps=3, seed=1, dynamic=True)
    assert a.shape == b.shape == (2, 3, 32, 32)


def test_same_seed_same_pictures(tiny):
    a, b = (tiny.sample(["a red circle", "a blue square"], steps=3, seed=5) for _ in range(2))
    assert torch.equal(a, b)


def test_threshold_study_reports_both_ways_at_each_scale(tiny):
    figures = imagen.threshold_study(tiny, n=1, scales=(5,))
    assert set(figures) == {f"s5_{way}_caption_acc_{tag}" for way in ("clip", "dynamic") for tag in ("seen", "heldout")}


def test_checkpoint_round_trip(tiny, tmp_path):
    checkpoints.save(tiny, tmp_path / "imagen", tiny.config)
    loaded = glide.Glide.from_checkpoint(tmp_path / "imagen")
    assert torch.equal(loaded.sample(["a red circle"], steps=2), tiny.sample(["a red circle"], steps=2))

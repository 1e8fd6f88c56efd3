"""GLIDE in miniature (course_lib.glide): the guidance mix, caption dropout at the configured rate,
the text switch (own vs frozen CLIP), inpainting keeping the known part, repeatable sampling."""
import dataclasses
import random

import pytest
import torch

from course_lib import bart, captions, checkpoints, clip, glide


def fresh(preset=glide.preset, **changes):
    """A tiny model of ``preset``'s (GLIDE's, or another stage's on the same class) with ``changes``, seeded."""
    config, training = preset("tiny")
    config = dataclasses.replace(config, **changes)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return glide.build(config), training


@pytest.fixture(scope="module")
def tiny():
    model, training = fresh()
    return glide.train(model, training, progress=False)[0]


PROMPTS = ["a red circle", "a big blue square above a small green triangle", "a yellow diamond on the left"]


def test_the_guidance_mix_is_the_formula():
    cond, uncond = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    for s in (0.0, 1.0, 2.5, 8.0):
        assert torch.allclose(bart.guide(cond, uncond, s), uncond + s * (cond - uncond))
    assert torch.allclose(bart.guide(cond, uncond, 1.0), cond, atol=1e-6)  # s = 1: the conditional prediction


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0])
def test_the_guided_denoiser_mixes_the_conditional_and_unconditional_predictions(tiny, scale):
    x_t, t = torch.randn(3, *tiny.codec.shape), torch.tensor(4)
    caption, empty = tiny.encode_text(PROMPTS), tiny.encode_text([""] * 3)
    with torch.no_grad():
        cond, uncond = tiny(x_t, t, caption), tiny(x_t, t, empty)
        guided = tiny.denoiser(caption, scale)(x_t, t)
    assert torch.allclose(guided, uncond + scale * (cond - uncond), atol=1e-5)
    if scale == 1.0:
        assert torch.allclose(guided, cond, atol=1e-6)


def test_the_caption_reaches_the_unet_through_both_paths(tiny):
    """Cross-attention to the tokens and the pooled embedding in the time embedding each change ε̂."""
    x_t, t = torch.randn(2, *tiny.codec.shape), torch.tensor(3)
    caption = tiny.encode_text(PROMPTS[:2])
    with torch.no_grad():
        base = tiny(x_t, t, caption)
        other_tokens = tiny(x_t, t, glide.Caption(caption.pooled, caption.tokens.flip(0), caption.mask.flip(0)))
        other_pooled = tiny(x_t, t, glide.Caption(caption.pooled.flip(0), caption.tokens, caption.mask))
    assert not torch.allclose(base, other_tokens) and not torch.allclose(base, other_pooled)
    assert caption.tokens.shape[:2] == caption.mask.shape and caption.pooled.shape == (2, tiny.config.embed_dim)
    assert caption.mask[0].sum() == 5 and caption.mask[1].sum() > 5  # <s> a red circle </s>, then padding


def test_captions_are_dropped_at_the_configured_rate():
    model, training = fresh()
    training = dataclasses.replace(training, steps=40, batch_size=16, n_train=64, caption_dropout=0.25)
    seen = []
    encode = model.encode_text
    model.encode_text = lambda prompts: seen.extend(prompts) or encode(prompts)
    glide.train(model, training, progress=False)
    dropped = sum(p == "" for p in seen) / len(seen)
    assert len(seen) == 40 * 16 and 0.2 < dropped < 0.3
    rng = random.Random(0)
    assert bart.drop_captions(["a red circle"] * 4, 0.0, rng) == ["a red circle"] * 4
    assert bart.drop_captions(["a red circle"] * 4, 1.0, rng) == [""] * 4


def test_same_seed_same_pictures(tiny):
    a = tiny.sample(PROMPTS, steps=3, seed=4)
    assert torch.equal(a, tiny.sample(PROMPTS, steps=3, seed=4)) and a.shape == (3, 3, 32, 32)
    assert not torch.equal(a, tiny.sample(PROMPTS, steps=3, seed=5))
    assert torch.equal(tiny.sample(PROMPTS, steps=3, seed=4, batch_size=2), a)


def test_inpainting_keeps_the_known_part(tiny):
    pictures = torch.rand(3, 3, 32, 32)
    mask = glide.right_half_mask(3)
    drawn = tiny.sample(PROMPTS, known=(pictures, mask), steps=4, seed=0)  # put back after every step
    assert torch.allclose(drawn[..., :16], pictures[..., :16], atol=1e-5)  # pixel space: the left half as given
    out = glide.inpaint(tiny, pictures, mask, PROMPTS, steps=4, seed=0)
    assert torch.equal(out[..., :16], pictures[..., :16]) and torch.equal(out[..., 16:], drawn[..., 16:])
    assert not torch.allclose(out[..., 16:], pictures[..., 16:], atol=1e-2)
    with pytest.raises(ValueError, match="mask must be"):
        glide.inpaint(tiny, pictures, mask[:2], PROMPTS)


def test_latent_mask_redraws_every_position_a_masked_pixel_touches():
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 5, 13] = 1
    small = glide.latent_mask(mask, 8)
    assert small.sum() == 1 and small[0, 0, 1, 3] == 1


def test_bad_input_is_refused_before_sampling(tiny):
    with pytest.raises(ValueError, match="0 to 100"):
        tiny.sample(PROMPTS, scale=-1)
    with pytest.raises(captions.CaptionError):
        tiny.sample(["a pink circle"])
    with pytest.raises(captions.CaptionError, match="the prompt is empty"):
        tiny.sample([""])  # "" is the unconditional caption inside guidance, not a prompt
    with pytest.raises(ValueError, match="own, clip"):
        glide.GlideConfig(text="bert")


def test_the_clip_switch_freezes_the_course_clip_text_tower():
    config, training = glide.preset("smoke")
    model = glide.build(dataclasses.replace(config, text="clip"))
    shipped = clip.ShapesCLIP.from_checkpoint("clip")
    assert model.config.text_width == shipped.config.text_width
    before = {k: v.clone() for k, v in model.text.state_dict().items()}
    reference = clip.CaptionEncoder(clip.ClipConfig(**{k: getattr(model.config, k) for k in
                                                       ("embed_dim", "text_width", "text_heads", "text_layers")}))
    reference.copy_from(shipped)
    assert all(torch.equal(before[k], v) for k, v in reference.state_dict().items())
    glide.train(model, dataclasses.replace(training, steps=2), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.text.state_dict().items())
    assert not any(p.requires_grad for p in model.text.parameters())


def test_glides_own_text_encoder_learns():
    model, training = fresh()
    before = {k: v.clone() for k, v in model.text.state_dict().items()}
    glide.train(model, dataclasses.replace(training, ema_decay=0.0), progress=False)
    assert any(not torch.equal(before[k], v) for k, v in model.text.state_dict().items())


def test_checkpoint_round_trip(tiny, tmp_path):
    checkpoints.save(tiny, tmp_path / "glide", tiny.config)
    again = glide.Glide.from_checkpoint(tmp_path / "glide")
    assert torch.equal(again.sample(PROMPTS[:1], steps=2), tiny.sample(PROMPTS[:1], steps=2))


def test_evaluate_reports_the_benchmarks_names(tiny):
    figures = glide.evaluate(tiny, n=2, steps=2)
    assert set(figures) == {f"caption_acc_{t}_{k}" for t in ("seen", "heldout") for k in ("one", "two")}

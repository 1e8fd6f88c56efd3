import dataclasses
import random

import pytest
import torch

from course_lib import bart, captions


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return bart.CaptionToImageBart(bart.PRESETS["tiny"].config).eval()


PROMPTS = ["a red circle in the middle", "a big blue box above a green disc"]


def test_sampled_tokens_are_image_codes_of_the_right_length(model):
    codes = bart.sample(model, PROMPTS, generator=torch.Generator().manual_seed(0))
    assert codes.shape == (2, model.config.image_tokens) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < model.config.codebook_size


def test_decoder_logits_cover_only_image_tokens(model):
    ids, mask = model.encode_prompts(PROMPTS)
    codes = torch.randint(0, model.config.codebook_size, (2, model.config.image_tokens))
    logits = model.image_logits(ids, mask, model.decoder_inputs(codes))
    assert logits.shape == (2, model.config.image_tokens, model.config.codebook_size)


def test_same_seed_same_tokens_and_temperature_top_k(model):
    def draw(seed, **kw):
        return bart.sample(model, PROMPTS, generator=torch.Generator().manual_seed(seed), **kw)
    assert torch.equal(draw(1), draw(1))
    assert torch.equal(draw(1, top_k=1), draw(2, top_k=1))  # top-1 is greedy: no randomness left
    with pytest.raises(ValueError, match="temperature must be > 0"):
        draw(1, temperature=0)


def test_guidance_at_scale_one_equals_conditional_sampling(model):
    cond, uncond = torch.randn(3, 16), torch.randn(3, 16)
    assert torch.allclose(bart.guide(cond, uncond, 1.0), cond)
    assert torch.allclose(bart.guide(cond, uncond, 0.0), uncond)
    assert torch.allclose(bart.guide(cond, uncond, 3.0), uncond + 3 * (cond - uncond))
    plain = bart.sample(model, PROMPTS, generator=torch.Generator().manual_seed(5))
    guided = bart.sample(model, PROMPTS, guidance_scale=1.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(plain, guided)
    strong = bart.sample(model, PROMPTS, guidance_scale=4.0, generator=torch.Generator().manual_seed(5))
    assert strong.shape == plain.shape


def test_guided_sampling_mixes_the_unconditional_branch(model, monkeypatch):
    seen = []
    real = bart.guide
    monkeypatch.setattr(bart, "guide", lambda c, u, s: seen.append(s) or real(c, u, s))
    bart.sample(model, PROMPTS, guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
    assert seen == [3.0] * model.config.image_tokens


def test_top_k_keeps_k_logits():
    logits = torch.tensor([[1.0, 5.0, 3.0, 2.0]])
    kept = bart.filter_top_k(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, True, False]]
    assert torch.equal(bart.filter_top_k(logits, None), logits)


def test_translation_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = bart.CaptionToImageBart(bart.PRESETS["tiny"].config)
    codes = torch.randint(0, 16, (2, 4))
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        loss = bart.translation_loss(model, PROMPTS, codes)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_token_noise_swaps_image_inputs_only_and_only_in_training():
    torch.manual_seed(0)
    model = bart.CaptionToImageBart(dataclasses.replace(bart.PRESETS["tiny"].config, image_tokens=64))
    codes = torch.randint(0, 16, (200, 64))
    inputs = model.decoder_inputs(codes)
    noisy = bart.add_token_noise(model, inputs, 0.3)
    assert torch.equal(noisy[:, 0], inputs[:, 0])  # the <image> start token stays
    assert ((noisy >= model.image_offset) & (noisy < model.image_bos))[:, 1:].all()
    changed = (noisy != inputs)[:, 1:].float().mean().item()
    assert 0.3 * 15 / 16 - 0.02 < changed < 0.3 * 15 / 16 + 0.02  # 1 in 16 random codes equals the old one

    seen = []
    original = model.image_logits
    model.image_logits = lambda ids, mask, codes_in: seen.append(codes_in) or original(ids, mask, codes_in)
    model.train()
    bart.translation_loss(model, ["a red circle"] * 200, codes, token_noise=0.3)
    bart.translation_loss(model, ["a red circle"] * 200, codes)  # no noise asked for: clean even in training
    model.eval()
    bart.translation_loss(model, ["a red circle"] * 200, codes, token_noise=0.3)
    assert not torch.equal(seen[0], inputs) and torch.equal(seen[1], inputs) and torch.equal(seen[2], inputs)


def test_mask_spans_and_denoising(model):
    rng = random.Random(0)
    words = captions.tokenize_words("a big red circle in the top left corner")
    masked = bart.mask_spans(words, rng)
    assert "<mask>" in masked and len(masked) < len(words)
    assert [w for w in masked if w != "<mask>"] == [w for w in words if w in masked]
    loss = bart.denoising_loss(model, PROMPTS, random.Random(0))
    assert loss.item() > 0
    filled = bart.fill_masks(model, ["a <mask> circle in the middle"])
    assert len(filled) == 1 and isinstance(filled[0], str)


def test_unknown_words_are_refused(model):
    with pytest.raises(captions.UnknownWordError):
        bart.sample(model, ["a red dragon"])

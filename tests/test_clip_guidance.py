"""CLIP guidance of the unconditional diffusion model (course_lib.clip_guidance): scale 0 is the
unguided model's own sampling, a positive scale raises CLIP's relevance, the differentiable decode
draws what ``Codec.decode`` draws, and bad input is refused before sampling."""
import pytest
import torch

from course_lib import captions, clip, clip_guidance, diffusion, eval_sets, vqgan_clip

PROMPTS = ["a big red circle in the middle", "a blue square above a green triangle"]


@pytest.fixture(scope="module")
def models():
    return diffusion.Diffusion.from_checkpoint("diffusion"), clip.ShapesCLIP.from_checkpoint("clip")


def test_scale_zero_draws_the_unguided_models_pictures(models):
    model, clip_model = models
    pictures = clip_guidance.sample(model, clip_model, PROMPTS, scale=0, steps=4, seed=3)
    assert torch.equal(pictures, model.sample(2, steps=4, seed=3))


def test_the_guided_denoiser_at_scale_zero_is_the_models_noise_prediction(models):
    model, clip_model = models
    x_t, t = torch.randn(2, *model.codec.shape), torch.tensor(120)
    denoise = clip_guidance.guided_denoiser(model, clip_model, vqgan_clip.text_targets(clip_model, PROMPTS), 0.0,
                                            vqgan_clip.Augmentation(cutouts=2), torch.Generator().manual_seed(0), 1.0)
    with torch.no_grad():
        assert torch.allclose(denoise(x_t, t), model(x_t, t))


def test_a_positive_scale_raises_clips_relevance(models):
    """Measured on the shipped models, 8 prompts and 10 DDIM steps: guided above unguided for seeds 0-3,
    2 or 4 cutouts and scales 0.1-0.3, every time (by 4 points or more)."""
    model, clip_model = models
    prompts = eval_sets.prompts(4, "train", "one") + eval_sets.prompts(4, "train", "two")
    mean_relevance = {scale: clip.relevance(clip_model, clip_guidance.sample(
        model, clip_model, prompts, scale=scale, steps=10, augmentation=vqgan_clip.Augmentation(cutouts=4)),
        prompts).diag().mean().item() for scale in (0, 0.2)}
    assert mean_relevance[0.2] > mean_relevance[0], mean_relevance


def test_the_same_seed_gives_the_same_guided_pictures(models):
    a, b = (clip_guidance.sample(*models, PROMPTS, scale=0.2, steps=3, seed=1) for _ in range(2))
    assert a.shape == (2, 3, 32, 32) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)


def test_decode_draws_the_codecs_pictures_and_is_differentiable(models):
    codec = models[0].codec
    x0 = (torch.rand(2, *codec.shape) * 2 - 1).requires_grad_()
    pictures = clip_guidance.decode(codec, x0)
    assert torch.allclose(pictures, codec.decode(x0.detach()), atol=1e-5)
    pictures.sum().backward()
    assert x0.grad.abs().sum() > 0


def test_codec_codes_undo_components_for_codes_on_their_plane(models):
    codec = models[0].codec
    components = torch.randn(5, codec.basis.shape[1])
    assert torch.allclose(codec.components(codec.codes(components)), components, atol=1e-4)


def test_bad_input_is_refused_before_sampling(models, monkeypatch):
    monkeypatch.setattr(clip_guidance, "sample_loop", lambda *_, **__: pytest.fail("sampled before checking"))
    with pytest.raises(captions.CaptionError, match="unknown word 'blob'"):
        clip_guidance.sample(*models, ["a red blob"], scale=1.0)
    for scale in (-1, "3", None):
        with pytest.raises(ValueError, match="must be a number of 0 or more"):
            clip_guidance.sample(*models, PROMPTS, scale=scale)
    with pytest.raises(ValueError, match="steps must be a whole number of at least 1"):
        clip_guidance.sample(*models, PROMPTS, scale=1.0, steps=0)


def test_guided_eps_caps_each_pictures_gradient_and_keeps_a_small_one():
    eps, grad = torch.zeros(2, 1, 2, 2), torch.stack([torch.full((1, 2, 2), 20.0), torch.full((1, 2, 2), 0.5)])
    shift = -clip_guidance.guided_eps(eps, grad, torch.tensor(0.75), scale=2.0, max_grad=1.0)  # s·√(1-ᾱ) = 1
    assert torch.allclose(shift[0], torch.ones(1, 2, 2)) and torch.allclose(shift[1], torch.full((1, 2, 2), 0.5))

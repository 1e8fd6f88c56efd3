"""VQGAN + CLIP (course_lib.vqgan_clip): it raises CLIP's score within a small budget, repeats with a
seed, records CLIP's and the oracle's view along the way, leaves the models untouched, and refuses bad
input before optimising."""
import dataclasses

import pytest
import torch

from course_lib import captions, clip, vqgan, vqgan_clip

PROMPTS = ["a big red circle in the middle", "a blue square above a green triangle"]
QUICK = vqgan_clip.VqganClipConfig(steps=4, cutouts=2)


@pytest.fixture(scope="module")
def models():
    return vqgan.VQGAN.from_checkpoint("vqgan"), clip.ShapesCLIP.from_checkpoint("clip")


def test_it_raises_clips_score_within_its_budget(models):
    result = vqgan_clip.optimise(*models, PROMPTS, vqgan_clip.VqganClipConfig(steps=40, cutouts=2), record_every=40)
    first, last = result.trace.mean_scores().tolist()
    assert last > first + 10, f"CLIP's mean score went from {first:.1f} to only {last:.1f} in 40 steps"


def test_the_result_has_pictures_scores_and_a_trace_of_the_recorded_steps(models):
    result = vqgan_clip.optimise(*models, PROMPTS, dataclasses.replace(QUICK, steps=5), record_every=2)
    assert result.pictures.shape == (2, 3, 32, 32) and result.pictures.device.type == "cpu"
    assert 0 <= result.pictures.min() and result.pictures.max() <= 1
    assert result.trace.steps == [0, 2, 4, 5]
    assert result.trace.scores.shape == result.trace.correct.shape == (4, 2)
    assert result.trace.correct.dtype == torch.bool
    assert torch.equal(result.scores, result.trace.scores[-1])
    assert torch.allclose(result.scores, clip.relevance(models[1], result.pictures, PROMPTS).diag(), atol=1e-4)
    assert result.trace.mean_scores().shape == result.trace.accuracy().shape == (4,)
    assert result.seconds > 0


def test_the_same_seed_gives_the_same_pictures_and_another_seed_others(models):
    a, b = (vqgan_clip.optimise(*models, PROMPTS, QUICK).pictures for _ in range(2))
    other = vqgan_clip.optimise(*models, PROMPTS, dataclasses.replace(QUICK, seed=1)).pictures
    assert torch.equal(a, b) and not torch.equal(a, other)


def test_it_runs_with_and_without_augmentations_and_only_the_latents_learn(models):
    for augment in (True, False):
        result = vqgan_clip.optimise(*models, PROMPTS, dataclasses.replace(QUICK, augment=augment))
        assert result.pictures.shape == (2, 3, 32, 32)
    assert all(p.grad is None for model in models for p in model.parameters())


def test_no_augmentation_is_the_picture_itself_and_augmentations_make_differentiable_copies():
    pictures = torch.rand(3, 3, 32, 32, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(vqgan_clip.NO_AUGMENTATION(pictures, generator), pictures)
    copies = vqgan_clip.Augmentation(cutouts=4, crop_min=0.5, noise=0.1)(pictures, generator)
    assert copies.shape == (12, 3, 32, 32)
    copies.sum().backward()
    assert pictures.grad.abs().sum() > 0


def test_draw_snaps_to_codes_and_passes_the_gradient_straight_through(models):
    model = models[0]
    ids = torch.randint(0, model.config.codebook_size, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    codes = model.quantizer.lookup(ids).detach()
    latents = (codes + 1e-3 * torch.randn(codes.shape)).requires_grad_()  # near the codes, not on them
    pictures = vqgan_clip.draw(model, latents)
    assert torch.allclose(pictures, model.decode(ids), atol=1e-6)
    pictures.sum().backward()
    assert latents.grad.abs().sum() > 0


def test_fooled_counts_pictures_clip_likes_and_the_oracle_calls_wrong():
    trace = vqgan_clip.Trace([0, 1], torch.tensor([[10.0, 95.0], [93.0, 95.0]]),
                             torch.tensor([[False, True], [False, False]]))
    assert trace.fooled(90.0).tolist() == [0.0, 1.0]
    assert trace.fooled(torch.tensor([94.0, 90.0])).tolist() == [0.0, 0.5]


def test_a_bad_prompt_is_refused_before_any_optimisation(models, monkeypatch):
    monkeypatch.setattr(vqgan_clip, "draw", lambda *_: pytest.fail("optimised before checking the prompts"))
    with pytest.raises(captions.CaptionError, match="unknown word 'blob'"):
        vqgan_clip.optimise(*models, ["a red blob"], QUICK)
    with pytest.raises(ValueError, match="at least one prompt"):
        vqgan_clip.optimise(*models, [], QUICK)
    with pytest.raises(ValueError, match="record_every must be a whole number of at least 1"):
        vqgan_clip.optimise(*models, PROMPTS, QUICK, record_every=0)


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "steps must be a whole number of at least 1"),
    ({"steps": 2.5}, "steps must be a whole number of at least 1"),
    ({"lr": 0}, "lr must be above 0"),
    ({"cutouts": 0}, "cutouts must be a whole number of at least 1"),
    ({"crop_min": 1.5}, "crop_min is the smallest crop's side"),
    ({"noise": -1}, "noise is a standard deviation"),
    ({"init_noise": -1}, "init_noise is a standard deviation"),
])
def test_a_bad_config_says_what_to_do(change, message):
    with pytest.raises(ValueError, match=message):
        vqgan_clip.VqganClipConfig(**change)

"""The diffusion process written out (course_lib.diffusion_process) equals diffusers' schedulers, and the
unconditional stage (course_lib.diffusion) trains, samples repeatably and saves like every stage."""
import dataclasses

import pytest
import torch

from course_lib import checkpoints, diffusion
from course_lib.diffusion_process import (alphas_cumprod, betas, ddpm_step, epsilon_loss, q_sample, sample_loop,
                                          scheduler)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("timesteps", [50, 250, 1000])
def test_our_betas_are_diffusers(schedule, timesteps):
    ours = betas(schedule, timesteps)
    for sampler in ("ddpm", "ddim"):
        theirs = scheduler(sampler, schedule, timesteps)
        assert torch.allclose(ours, theirs.betas, atol=1e-6)
        assert torch.allclose(alphas_cumprod(ours), theirs.alphas_cumprod, atol=1e-5)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_the_chain_ends_in_noise_and_starts_at_the_picture(schedule):
    alpha_bar = alphas_cumprod(betas(schedule, 250))
    assert alpha_bar[0] > 0.99 and alpha_bar[-1] < 0.01
    assert torch.all(alpha_bar[1:] < alpha_bar[:-1])


def test_q_sample_is_diffusers_add_noise():
    x0, noise = torch.rand(6, 3, 8, 8) * 2 - 1, torch.randn(6, 3, 8, 8)
    t = torch.tensor([0, 5, 17, 99, 150, 249])
    theirs = scheduler("ddpm", "cosine", 250)
    ours = q_sample(x0, t, noise, alphas_cumprod(betas("cosine", 250)))
    assert torch.allclose(ours, theirs.add_noise(x0, noise, t), atol=1e-6)


def test_q_sample_keeps_unit_variance():
    """√ᾱ x_0 + √(1 - ᾱ) ε has variance ᾱ + (1 - ᾱ) = 1 for unit-variance x_0: the reason for the square roots."""
    x0, noise = torch.randn(20000, 1, 1, 1), torch.randn(20000, 1, 1, 1)
    x_t = q_sample(x0, torch.full((20000,), 60), noise, alphas_cumprod(betas("linear", 250)))
    assert abs(x_t.var().item() - 1) < 0.05


@pytest.mark.parametrize("t", [0, 1, 40, 249])
@pytest.mark.parametrize("clip", [False, True])
def test_our_reverse_step_is_diffusers_ddpm_step(t, clip):
    beta = betas("linear", 250)
    theirs = scheduler("ddpm", "linear", 250, clip=clip)
    theirs.set_timesteps(250)
    x_t, eps = torch.randn(4, 3, 8, 8) * 2, torch.randn(4, 3, 8, 8)
    expected = theirs.step(eps, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(ddpm_step(eps, t, x_t, beta, noise, clip=clip), expected, atol=1e-4)


def test_epsilon_loss_is_the_mean_squared_error():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    assert torch.isclose(epsilon_loss(a, b), ((a - b) ** 2).mean())


def test_a_perfect_denoiser_gives_back_the_picture():
    """With ε̂ the true noise of x_t, one DDIM step to t = -1 lands on x_0: what the loss asks the network for."""
    x0 = torch.rand(2, 3, 8, 8) * 2 - 1
    alpha_bar = alphas_cumprod(betas("cosine", 100))
    generator = torch.Generator().manual_seed(0)
    x_t_seen = {}

    def oracle_denoiser(x_t, t):  # the ε that makes x_t from x0
        a = alpha_bar[int(t)]
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    out = sample_loop(oracle_denoiser, scheduler("ddim", "cosine", 100), x0.shape, 5, generator=generator,
                      keep=lambda t, x: x_t_seen.setdefault(t, x))
    assert torch.allclose(out, x0, atol=1e-4) and len(x_t_seen) == 5


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="linear, cosine"):
        betas("sigmoid", 10)
    with pytest.raises(ValueError, match="ddpm, ddim"):
        scheduler("euler", "linear", 10)
    with pytest.raises(ValueError, match="pixel, latent"):
        diffusion.DiffusionConfig(space="wavelet")
    with pytest.raises(ValueError, match="one entry per level"):
        diffusion.DiffusionConfig(channels=(8, 16), attention=(True,))


@pytest.fixture(scope="module")
def tiny():
    config, training = diffusion.preset("tiny")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = diffusion.build(config)
    return diffusion.train(model, training, progress=False)[0]


def test_same_seed_same_pictures(tiny):
    for sampler in ("ddpm", "ddim"):
        a, b = tiny.sample(3, sampler=sampler, steps=4, seed=5), tiny.sample(3, sampler=sampler, steps=4, seed=5)
        assert torch.equal(a, b) and a.shape == (3, 3, 32, 32) and 0 <= a.min() and a.max() <= 1
    assert not torch.equal(tiny.sample(3, seed=5), tiny.sample(3, seed=6))
    assert torch.equal(tiny.sample(5, seed=1, batch_size=2)[:2], tiny.sample(2, seed=1))


def test_ddpm_runs_every_step_and_ddim_the_asked_number(tiny):
    seen = {"ddpm": [], "ddim": []}
    for sampler in seen:
        tiny.sample(1, sampler=sampler, steps=3, keep=lambda t, x, s=sampler: seen[s].append(t))
    assert seen["ddpm"] == list(range(tiny.config.timesteps - 1, -1, -1))
    assert len(seen["ddim"]) == 3 and seen["ddim"][0] == tiny.config.timesteps - 1


def test_film_strip_frames(tiny):
    ts, frames = diffusion.film_strip(tiny, n=2, steps=6, frames=4)
    assert len(ts) == 4 and frames.shape == (4, 2, 3, 32, 32) and ts == sorted(ts, reverse=True)


def test_training_lowers_the_loss():
    config, training = diffusion.preset("tiny")
    training = dataclasses.replace(training, steps=60, batch_size=16, n_train=64, lr=3e-3, ema_decay=0.0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = diffusion.build(config)
    _, history = diffusion.train(model, training, progress=False)
    losses = history.losses["loss"]
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10


def test_moving_average_is_what_the_trained_model_holds():
    """Two steps at decay ½: torch's EMA starts as a copy of the first step's weights, then averages in
    the second's, so the trained model holds ½ (w_1 + w_2); training itself is the same as without it."""
    config, training = diffusion.preset("tiny")
    name, after_first = "unet.conv_in.weight", []

    def fresh():
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return diffusion.build(config)

    model = fresh()
    averaged, _ = diffusion.train(model, dataclasses.replace(training, ema_decay=0.5), every=1, progress=False,
                                  callback=lambda done, h: after_first.append(model.state_dict()[name].clone()))
    raw, _ = diffusion.train(fresh(), dataclasses.replace(training, ema_decay=0.0), progress=False)
    w1, w2 = after_first[0], raw.state_dict()[name]
    assert not torch.allclose(w1, w2)
    assert torch.allclose(averaged.state_dict()[name], (w1 + w2) / 2, atol=1e-6)


def test_latent_codec_round_trips_the_shipped_vqgan():
    config, _ = diffusion.preset("smoke")
    model = diffusion.build(config)
    from course_lib import datasets, oracle

    images = datasets.ShapesDataset(64, kind="one", seed=3).images
    latents = model.codec.encode(images)
    assert latents.shape == (64, 8, 8, 8)
    assert latents.abs().max() <= 1 and latents.std() > 0.05
    assert oracle.agreement(images, model.codec.decode(latents)) > 0.95


def test_checkpoint_round_trip(tiny, tmp_path):
    checkpoints.save(tiny, tmp_path / "diffusion", tiny.config)
    again = diffusion.Diffusion.from_checkpoint(tmp_path / "diffusion")
    assert torch.equal(again.sample(2, steps=3, seed=0), tiny.sample(2, steps=3, seed=0))


def test_evaluate_reports_the_benchmarks_names(tiny):
    figures = diffusion.evaluate(tiny, n=8, steps=2)
    assert set(figures) == {"validity", "coverage", "sharpness", "seconds_per_picture"}
    assert 0 <= figures["validity"] <= 1 and figures["seconds_per_picture"] > 0

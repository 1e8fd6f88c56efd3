"""unCLIP in miniature (course_lib.unclip): the priors' and the decoder's shapes and training targets,
the decoder reading z_i, guidance with a zero embedding, variations and interpolation, and seeds."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from course_lib import checkpoints, clip, datasets, unclip


def fresh(**changes):
    config, training = unclip.preset("tiny")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return unclip.build(dataclasses.replace(config, **changes)), training


@pytest.fixture(scope="module")
def tiny():
    model, training = fresh()
    return unclip.train(model, training, progress=False)[0]


PROMPTS = ["a red circle", "a big blue square above a small green triangle"]


def test_the_clip_is_the_shipped_one_and_stays_frozen(tiny):
    shipped = clip.ShapesCLIP.from_checkpoint("clip").state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in tiny.clip.state_dict().items())
    assert not any(p.requires_grad for p in tiny.clip.parameters())


def test_the_priors_map_text_embeddings_to_unit_image_embeddings(tiny):
    for prior in unclip.PRIORS:
        z = tiny.image_embeddings(PROMPTS, prior)
        assert z.shape == (2, tiny.config.clip_embed_dim)
        assert torch.allclose(z.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.equal(tiny.image_embeddings(PROMPTS, "none"), tiny.clip.encode_text(PROMPTS))
    with pytest.raises(ValueError, match="unknown prior 'mean'; choose one of: diffusion, regression, none"):
        tiny.image_embeddings(PROMPTS, "mean")


def test_the_diffusion_prior_is_trained_to_predict_the_scaled_image_embedding():
    """Its loss is the squared error to x_0 = √D z_i of x_t made from that x_0: zero for a prior that
    answers x_0 whatever it is given, and the target is not the noise."""
    prior = unclip.DiffusionPrior(dim=4, width=8, timesteps=10)
    z_text, z_image = F.normalize(torch.randn(3, 4), dim=-1), F.normalize(torch.randn(3, 4), dim=-1)
    x0 = z_image * 2  # √4

    class Oracle(torch.nn.Module):
        def forward(self, x_t, t, z):
            return x0

    prior.net = None
    prior.forward = Oracle().forward
    assert prior.loss(z_text, z_image, torch.Generator().manual_seed(0)).item() == pytest.approx(0, abs=1e-7)


def test_the_priors_learn_the_embedding_pairs():
    model, training = fresh()
    data = datasets.ShapesDataset(64, seed=3)
    pairs = unclip.embedding_pairs(model, data)
    z_text, z_image = pairs.tensors
    assert z_text.shape == z_image.shape == (64, model.config.clip_embed_dim)
    history = unclip.train_priors(model, dataclasses.replace(training, prior_steps=60, prior_batch_size=32), data,
                                  progress=False)
    for name in ("regression", "diffusion_prior"):
        assert history.last(5)[name] < history.losses[name][0]


def test_the_decoder_reads_the_image_embedding_through_tokens_and_pooled(tiny):
    x_t, t = torch.randn(2, *tiny.codec.shape), torch.tensor(3)
    z = F.normalize(torch.randn(2, tiny.config.clip_embed_dim), dim=-1)
    condition = tiny.condition(z)
    assert condition.tokens.shape == (2, tiny.config.clip_tokens, tiny.config.token_width)
    assert condition.mask.all() and torch.equal(condition.pooled, z)
    with torch.no_grad():
        assert not torch.allclose(tiny(x_t, t, condition), tiny(x_t, t, tiny.condition(z.flip(0))))
    none = tiny.unconditional(2)
    assert torch.equal(none.pooled, torch.zeros_like(z))


def test_embedding_dropout_zeroes_the_configured_share():
    model, training = fresh()
    seen = []
    original = model.condition
    model.condition = lambda z: (seen.append(z.detach().clone()), original(z))[1]
    step = unclip.make_step(model, dataclasses.replace(training, embedding_dropout=0.5, batch_size=64))
    images = datasets.ShapesDataset(64, seed=1).images
    for _ in range(4):
        step((images, [""] * 64))
    zeroed = torch.cat([(z.abs().sum(-1) == 0).float() for z in seen])
    assert 0.35 < zeroed.mean().item() < 0.65


def test_sampling_shapes_seeds_and_bad_input(tiny):
    a = tiny.sample(PROMPTS, steps=2, seed=4)
    assert a.shape == (2, 3, 32, 32) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, tiny.sample(PROMPTS, steps=2, seed=4))
    assert tiny.sample(PROMPTS, prior="regression", steps=2).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="guidance scale"):
        tiny.sample(PROMPTS, scale=-1)
    from course_lib.captions import CaptionError
    with pytest.raises(CaptionError):
        tiny.sample(["a red unicorn"])
    with pytest.raises(CaptionError, match="the prompt is empty"):
        tiny.sample([""])


def test_variations_and_interpolation(tiny):
    pictures = datasets.ShapesDataset(2, seed=2).images
    assert tiny.variations(pictures[0], 3, steps=2).shape == (3, 3, 32, 32)
    path = tiny.interpolate(pictures[0], pictures[1], 4, steps=2, seed=1)
    assert path.shape == (4, 3, 32, 32)
    ends = tiny.decode(tiny.clip.encode_image(pictures), steps=2, seed=1, batch_size=1)
    assert torch.allclose(path[0], ends[0], atol=1e-3)  # the path starts at a's embedding, same noise


def test_training_lowers_the_decoder_loss():
    model, training = fresh()
    training = dataclasses.replace(training, steps=30, n_train=64, batch_size=16, lr=3e-3)
    _, history = unclip.train(model, training, progress=False)
    assert history.last(5)["loss"] < history.losses["loss"][0]
    assert {"loss", "regression", "diffusion_prior"} <= set(history.losses)


def test_checkpoint_round_trip(tiny, tmp_path):
    checkpoints.save(tiny, tmp_path / "unclip", tiny.config)
    loaded = unclip.UnCLIP.from_checkpoint(tmp_path / "unclip")
    assert torch.equal(loaded.sample(PROMPTS, steps=2), tiny.sample(PROMPTS, steps=2))


def test_evaluate_reports_the_benchmarks_names(tiny):
    from course_lib import stages

    assert tuple(unclip.evaluate(tiny, n=1, steps=2)) == stages.STAGES["unclip"].metrics

"""The autoencoder, VAE and conditional VAE: shapes, the KL term, the reparameterisation gradient,
learning on a fixed batch, determinism, and the caption conditions."""
import pytest
import torch

from course_lib import autoencoder as ae
from course_lib.captions import CaptionError
from course_lib.datasets import ShapesDataset
from course_lib.train import seeded

TINY = {"width": 4, "hidden": 16, "latent_dim": 3}


@pytest.fixture(scope="module")
def batch():
    data = ShapesDataset(8, kind="one", seed=3)
    return data.images, data.captions


def tiny(cls, seed=0, **fields):
    """A small model of ``cls``, its weights seeded by ``seed`` (constructors draw from torch's RNG)."""
    config_cls = ae.AEConfig if cls is ae.Autoencoder else ae.VAEConfig
    with seeded(seed):
        return cls(config_cls(**(TINY | fields)))


@pytest.mark.parametrize("cls", [ae.Autoencoder, ae.VAE, ae.ConditionalVAE])
@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes(cls, resolution):
    model = tiny(cls, resolution=resolution)
    x = torch.rand(5, 3, resolution, resolution)
    y = torch.zeros(5, ae.ATTRIBUTE_DIM) if cls is ae.ConditionalVAE else None
    if cls is ae.Autoencoder:
        z = model.encode(x)
        assert z.shape == (5, 3)
        out = model.decode(z)
    else:
        mu, logvar = model.encode(x, y)
        assert mu.shape == logvar.shape == (5, 3)
        out = model.decode(mu, y)
        assert model.sample(5, condition=y).shape == (5, 3, resolution, resolution)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1


def test_kl_matches_closed_form_of_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert torch.allclose(ae.kl_divergence(mu, logvar), expected, atol=1e-6)
    assert ae.kl_divergence(torch.zeros(2, 4), torch.zeros(2, 4)) == 0  # q = prior


def test_kl_one_dimension_by_hand():
    # KL(N(1, e) || N(0, 1)) = 1/2 (sigma^2 + mu^2 - 1 - log sigma^2) = 1/2 (e + 1 - 1 - 1)
    value = ae.kl_divergence(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    assert value.item() == pytest.approx(0.5 * (torch.e - 1))


def test_reparameterisation_gradient():
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    z = ae.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(z, mu + (0.5 * logvar).exp() * eps)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones(4, 3))  # dz/dmu = 1
    assert torch.allclose(logvar.grad, 0.5 * (0.5 * logvar).exp() * eps)  # dz/dlogvar = sigma * eps / 2


def test_beta_weights_the_kl_term(batch):
    images, _ = batch
    losses = {beta: tiny(ae.VAE, beta=beta).losses(images, generator=torch.Generator().manual_seed(0))
              for beta in (1.0, 4.0)}
    one, four = losses[1.0], losses[4.0]
    assert torch.allclose(one["reconstruction"], four["reconstruction"])
    assert torch.allclose(four["loss"], four["reconstruction"] + 4.0 * four["kl"])


@pytest.mark.parametrize("cls", [ae.Autoencoder, ae.VAE, ae.ConditionalVAE])
def test_loss_decreases_on_a_fixed_batch(cls, batch):
    model = tiny(cls, width=8, hidden=32)
    step = ae.make_step(model, ae.AETraining(lr=3e-3))
    torch.manual_seed(0)
    first = step(batch)["loss"]
    for _ in range(25):
        last = step(batch)["loss"]
    assert last < 0.8 * first


def test_same_seed_same_model_and_training(batch):
    def run(seed=0):  # the weights (built under ``seeded``) and the reparameterisation noise both come from the seed
        training = ae.AETraining(lr=1e-3, seed=seed)
        model = tiny(ae.VAE, seed=training.seed)
        step = ae.make_step(model, training)
        return [step(batch)["loss"] for _ in range(3)], model

    (losses_a, a), (losses_b, b) = run(), run()
    assert losses_a == losses_b
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.encoder.head[0].weight, tiny(ae.VAE, seed=1).encoder.head[0].weight)
    losses_c, _ = run(seed=1)
    assert losses_c != losses_a


def test_seeded_building_and_training_leave_the_global_rng_alone():
    config, training = ae.preset("vae", "tiny")
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    with seeded(training.seed):  # as ``Stage.fit`` builds it
        model = ae.build("vae", config)
    ae.train(model, training, progress=False)
    assert torch.equal(torch.rand(1), expected)


def test_attributes_one_hot_blocks():
    y = ae.attributes(["a big red circle in the top left", "a blue square in the middle"])
    assert y.shape == (2, ae.ATTRIBUTE_DIM)
    assert y[0].sum() == 4  # shape, colour, size, cell
    assert y[1].sum() == 3  # no size named: its block stays zero
    assert y[0, 0] == 1 and y[0, 4] == 1 and y[0, 4 + 6 + 1] == 1 and y[0, 12] == 1


def test_attributes_refuse_two_object_captions():
    with pytest.raises(CaptionError, match="one-object"):
        ae.attributes(["a red circle above a blue square"])


def test_generate_one_picture_per_caption():
    model = tiny(ae.ConditionalVAE)
    out = model.generate(["a red circle in the middle", "a small cyan diamond at the bottom"])
    assert out.shape == (2, 3, 32, 32)


def test_latent_grid_spans_the_points():
    model = tiny(ae.Autoencoder, latent_dim=2)
    points = torch.tensor([[-1.0, 0.0], [3.0, 2.0]])
    grid, pictures = ae.latent_grid(model, points, n=4)
    assert grid.shape == (16, 2) and pictures.shape == (16, 3, 32, 32)
    assert torch.allclose(grid[0], torch.tensor([-1.0, 2.0]))  # top left of the map
    assert torch.allclose(grid[-1], torch.tensor([3.0, 0.0]))  # bottom right


def test_presets_and_errors():
    config, training = ae.preset("vae2d", "smoke")
    assert config.latent_dim == 2 and isinstance(training, ae.AETraining) and training.middle_only
    config, training = ae.preset("cvae", "full")
    assert isinstance(config, ae.VAEConfig) and not training.middle_only
    assert type(ae.preset("ae", "tiny").config) is ae.AEConfig
    with pytest.raises(ValueError, match="unknown stage"):
        ae.preset("gan")
    with pytest.raises(ValueError, match="workshop"):
        ae.preset("vae", "huge")
    with pytest.raises(ValueError, match="resolution"):
        tiny(ae.VAE, resolution=48)


def test_checkpoint_round_trip(tmp_path, batch):
    from course_lib import checkpoints

    model = tiny(ae.ConditionalVAE)
    checkpoints.save(model, tmp_path / "cvae", model.config)
    loaded = checkpoints.load(tmp_path / "cvae", ae.ConditionalVAE, ae.VAEConfig)
    y = ae.attributes(batch[1])
    assert torch.equal(loaded.reconstruct(batch[0], y), model.eval().reconstruct(batch[0], y))


def test_latent_box_stays_inside_the_points_box():
    points = torch.tensor([[-1.0, 0.0, 5.0], [3.0, 2.0, 6.0]])
    box = ae.latent_box(points, 200, torch.Generator().manual_seed(0))
    assert box.shape == (200, 3)
    assert (box >= points.min(0).values).all() and (box <= points.max(0).values).all()

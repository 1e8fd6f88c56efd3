"""course_lib.gan_stabilisers: spectral norm and WGAN-GP against their definitions, and as switches of gan."""
import dataclasses

import pytest
import torch
from torch import nn

from course_lib import gan, gan_stabilisers
from course_lib.train import seeded


class LinearCritic(nn.Module):
    """D(x) = Σ over a pack's pictures of <w, x>: its gradient is w at every picture, so the penalty is known."""

    def __init__(self, w: torch.Tensor, pack: int = 1):
        super().__init__()
        self.w, self.pack = nn.Parameter(w), pack

    def forward(self, images):
        return (images * self.w).flatten(1).sum(1).reshape(-1, self.pack).sum(1)  # (B / pack,)


def test_spectral_norm_divides_every_conv_of_d_by_its_largest_singular_value():
    D = gan_stabilisers.set_norm(gan.Discriminator(width=4, pack=2), "spectral").train()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    images = torch.rand(4, 3, 32, 32)
    for _ in range(30):  # one power-iteration step per forward in training mode
        D(images)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().reshape(conv.out_channels, -1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.02)


def test_no_norm_removes_batch_norm_only_and_unknown_norm_is_refused():
    D = gan_stabilisers.set_norm(gan.Discriminator(width=4), "none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert not any(hasattr(m, "parametrizations") for m in D.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in gan_stabilisers.set_norm(gan.Discriminator(width=4), "batch").modules())
    with pytest.raises(ValueError, match="unknown discriminator norm 'layer'.*batch, spectral, none"):
        gan_stabilisers.set_norm(gan.Discriminator(width=4), "layer")


@pytest.mark.parametrize("pack", [1, 2])
def test_gradient_penalty_equals_its_formula_on_a_linear_critic(pack):
    torch.manual_seed(0)
    w = torch.randn(3, 32, 32) * 0.01
    critic = LinearCritic(w, pack)
    real, fake = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    penalty = gan_stabilisers.gradient_penalty(critic, real, fake)
    gradient_norm = (pack ** 0.5) * w.norm()  # ‖∇‖ over a pack: √pack · ‖w‖, wherever x̂ lies
    assert penalty.item() == pytest.approx(((gradient_norm - 1) ** 2).item(), rel=1e-5)
    penalty.backward()  # create_graph: the penalty reaches the critic's weights
    assert critic.w.grad is not None and critic.w.grad.abs().sum() > 0


def test_the_penalty_is_taken_on_the_line_between_real_and_fake():
    """A critic whose gradient depends on x: D(x) = ½‖x‖², ∇ = x̂ itself; ε = 1 puts x̂ on the real picture."""
    critic = nn.Module()
    critic.forward = lambda x: 0.5 * (x ** 2).flatten(1).sum(1)
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    at_real = gan_stabilisers.gradient_penalty(critic, real, fake, eps=torch.ones(2))
    expected = ((real.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert at_real.item() == pytest.approx(expected.item(), rel=1e-5)


def test_wgan_gp_needs_a_critic_without_batch_norm_and_a_known_loss():
    config, training = gan.preset("tiny")
    with pytest.raises(ValueError, match="batch norm mixes the pictures"):
        gan.game(gan.GAN(config), dataclasses.replace(training, loss="wgan-gp"))
    with pytest.raises(ValueError, match="unknown GAN loss 'hinge'"):
        gan.game(gan.GAN(config), dataclasses.replace(training, loss="hinge"))


def _trained(config, training):
    with seeded(training.seed):
        model = gan.GAN(config)
    return gan.train(model, training, progress=False)


@pytest.mark.parametrize("d_norm, loss", [("spectral", "bce"), ("none", "wgan-gp"), ("spectral", "wgan-gp")])
def test_each_stabiliser_trains_deterministically(d_norm, loss):
    config, training = gan.preset("tiny")
    config = dataclasses.replace(config, d_norm=d_norm)
    training = dataclasses.replace(training, loss=loss)
    first, history = _trained(config, training)
    second, _ = _trained(config, training)
    assert history.steps == training.steps
    assert all(torch.isfinite(torch.tensor(values)).all() for values in history.losses.values())
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_wgan_gp_step_lowers_the_critic_loss_on_a_fixed_pair():
    """The critic's move of one round goes downhill on D(fake) − D(real) + λ·penalty."""
    config, training = gan.preset("tiny")
    with seeded(0):
        model = gan.GAN(dataclasses.replace(config, d_norm="none")).train()
    opt_g, opt_d = gan.optimizers(model, dataclasses.replace(training, lr=1e-3))
    real, z = torch.rand(4, 3, 32, 32), model.noise(4, seed=0)

    def critic_loss():
        fixed = model.generator(z).detach()
        with seeded(1):
            return (model.discriminator(fixed).mean() - model.discriminator(real).mean()
                    + 10 * gan_stabilisers.gradient_penalty(model.discriminator, real, fixed)).item()

    before = critic_loss()
    for _ in range(5):
        with seeded(1):
            gan_stabilisers.wgan_gp_step(model, opt_g, opt_d, real, z)
    assert critic_loss() < before

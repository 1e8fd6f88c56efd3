"""course_lib.gan: shapes, the two losses against their formulas, gradient flow, determinism."""
import dataclasses
import math

import pytest
import torch

from course_lib import gan
from course_lib.train import seeded


@pytest.fixture
def tiny():
    return gan.preset("tiny")  # (config, training)


def _seeded_gan(config, training):
    """A GAN built the way ``Stage.fit`` builds it: its weights (and islands) seeded by ``training.seed``."""
    with seeded(training.seed):
        return gan.GAN(config)


def test_shapes_and_range(tiny):
    model = gan.GAN(tiny.config).eval()
    z = model.noise(3, seed=0)
    images = model.generator(z)
    assert images.shape == (3, 3, 32, 32)
    assert 0 <= images.min() and images.max() <= 1
    assert model.sample(5).shape == (5, 3, 32, 32)
    assert tiny.config.pack == 2 and model.discriminator(torch.rand(4, 3, 32, 32)).shape == (2,)  # one logit per pack
    assert gan.Discriminator(width=4).eval()(images).shape == (3,)  # unpacked: one logit per picture


def test_packed_discriminator_judges_the_pictures_together():
    D = gan.Discriminator(width=4, pack=2).eval()
    a, b, c = torch.rand(3, 1, 3, 32, 32)
    assert not torch.allclose(D(torch.cat([a, b])), D(torch.cat([a, c])))  # the partner changes the verdict
    with pytest.raises(ValueError, match="multiple of 2"):
        D(torch.rand(3, 3, 32, 32))
    with pytest.raises(ValueError, match="pack=1"):
        gan.Discriminator(width=4, cond_dim=3, pack=2)


def test_instance_noise_only_in_training_and_fades_to_zero():
    D = gan.Discriminator(width=4)
    noise = gan.InstanceNoise(D, 0.3, gan.Budget(steps=10), until=0.8)
    images = torch.rand(2, 3, 32, 32)
    assert D.noise_std == pytest.approx(0.3)
    D.train()
    assert not torch.equal(D(images), D(images))  # a fresh draw of noise each time
    D.eval()
    assert torch.equal(D(images), D(images))  # never at evaluation time
    for _ in range(4):
        noise.step()
    assert D.noise_std == pytest.approx(0.3 * (1 - 0.4 / 0.8))
    for _ in range(4):
        noise.step()
    assert D.noise_std == 0.0  # noise-free from 80% of the budget on


def test_conditional_discriminator_uses_the_condition():
    D = gan.Discriminator(width=4, cond_dim=3).eval()
    images = torch.rand(2, 3, 32, 32)
    a, b = D(images, torch.zeros(2, 3)), D(images, torch.ones(2, 3))
    assert a.shape == (2,) and not torch.allclose(a, b)


def test_losses_match_the_minimax_formulas():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(d_real) + torch.log(1 - d_fake)).mean()
    assert torch.allclose(gan.discriminator_loss(real, fake), expected_d)
    assert torch.allclose(gan.generator_loss(fake), -torch.log(d_fake).mean())  # non-saturating


def test_generator_loss_does_not_saturate():
    # where D confidently rejects a fake, -log D(G(z)) still has a strong gradient
    fake = torch.tensor([-8.0], requires_grad=True)
    gan.generator_loss(fake).backward()
    assert abs(fake.grad.item()) > 0.99


def test_step_moves_both_players_and_only_the_right_one(tiny):
    model = gan.GAN(tiny.config).train()
    opt_g, opt_d = gan.optimizers(model, tiny.training)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = gan.train_step(model, opt_g, opt_d, torch.rand(4, 3, 32, 32), model.noise(4, seed=0))
    assert set(losses) == {"D", "G"} and all(math.isfinite(v) for v in losses.values())
    for name, p in model.named_parameters():
        assert not torch.equal(before[name], p), f"{name} did not move"
    g_grads = [p.grad for p in model.generator.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in g_grads)


def test_discriminator_step_leaves_generator_alone(tiny):
    model = gan.GAN(tiny.config).train()
    fake = model.generator(model.noise(4, seed=0))
    gan.discriminator_loss(model.discriminator(torch.rand(4, 3, 32, 32)),
                           model.discriminator(fake.detach())).backward()
    assert all(p.grad is None for p in model.generator.parameters())


def test_deterministic_under_a_seed(tiny):
    data = [(torch.rand(3, 32, 32), "x") for _ in range(8)]
    config, training = tiny
    runs = [gan.train(_seeded_gan(config, training), training, data=data, progress=False)[0] for _ in range(2)]
    assert runs[0].discriminator.noise_std == 0.0  # the noise has faded by the end of the budget
    assert torch.equal(runs[0].sample(4, seed=3), runs[1].sample(4, seed=3))
    assert not torch.equal(runs[0].sample(4, seed=3), runs[0].sample(4, seed=4))


def test_island_noise_lies_near_its_islands_and_travels_with_the_checkpoint(tiny, tmp_path):
    from course_lib import checkpoints

    config = dataclasses.replace(tiny.config, islands=5, island_radius=0.1)
    model = gan.GAN(config)
    z = model.noise(400, seed=0)  # (400, z_dim)
    distances = torch.cdist(z, model.island_centres)  # (400, 5)
    nearest = distances.argmin(1)
    assert distances.min(1).values.max() < 3 * 0.1 * math.sqrt(config.z_dim)  # every z near a centre ...
    assert torch.cdist(model.island_centres, model.island_centres).fill_diagonal_(math.inf).min() > 1.0  # ... far from the others
    assert set(nearest.tolist()) == set(range(5))  # every island is used
    assert torch.equal(z, model.noise(400, seed=0)) and not torch.equal(z, model.noise(400, seed=1))
    assert not hasattr(gan.GAN(tiny.config), "island_centres")  # islands=0: plain N(0, I)
    checkpoints.save(model, tmp_path / "gan", config)
    assert torch.equal(checkpoints.load(tmp_path / "gan", gan.GAN, gan.GANConfig).island_centres, model.island_centres)


class Lamp(torch.nn.Module):
    """A stand-in generator: a white picture where z's first coordinate is positive, black elsewhere."""

    def forward(self, z):
        return (z[:, 0] > 0).float()[:, None, None, None].expand(-1, 3, 32, 32)


def _lamp_training(tiny, steps=8):
    return dataclasses.replace(tiny.training, steps=steps, restart_every=2, restart_offset=0.5)


def _lamp_gan(tiny):
    config = dataclasses.replace(tiny.config, islands=6)
    model = _seeded_gan(config, tiny.training)
    model.generator = Lamp()
    model.island_centres[:, 0] = torch.tensor([-5.0, -5.0, -5.0, 5.0, 5.0, 5.0])  # islands 0-2 blank, 3-5 live
    return model


def test_island_restarts_move_blank_islands_next_to_live_ones_and_only_while_due(tiny):
    model = _lamp_gan(tiny)
    assert gan.blank_islands(model).tolist() == [True] * 3 + [False] * 3
    before = model.island_centres.clone()
    restarts = gan.IslandRestarts(model, _lamp_training(tiny), until=0.75)
    restarts.step()  # round 1: not due (every 2 rounds)
    assert torch.equal(model.island_centres, before) and restarts.moved == 0
    restarts.step()  # round 2: due
    assert restarts.moved == 3
    assert torch.equal(model.island_centres[3:], before[3:])  # live islands stay put
    to_live = torch.cdist(model.island_centres[:3], before[3:]).min(1).values  # moved islands: near a live one ...
    assert (to_live < 4 * 0.5 * math.sqrt(tiny.config.z_dim)).all() and (model.island_centres[:3, 0] > 0).all()  # ... and lit
    assert not torch.equal(model.island_centres[0], model.island_centres[1])  # not copies of one another
    model.island_centres[:3] = before[:3]  # make them blank again
    for _ in range(2):  # rounds 3-4: due at 4 (progress 0.5)
        restarts.step()
    assert restarts.moved == 6
    model.island_centres[:3] = before[:3]
    for _ in range(4):  # rounds 5-8: due at 6 and 8, but 75 % of the budget is spent (the settling quarter)
        restarts.step()
    assert restarts.moved == 6 and torch.equal(model.island_centres, before)
    first, twin = _lamp_gan(tiny), _lamp_gan(tiny)
    for lamp in (first, twin):
        gan.IslandRestarts(lamp, _lamp_training(tiny)).restart()
    assert torch.equal(first.island_centres, twin.island_centres)  # same seed, same moves


def test_island_restarts_do_nothing_without_islands_or_when_switched_off(tiny):
    plain = gan.GAN(tiny.config)  # no islands: nothing to look at or move
    plain_restarts = gan.IslandRestarts(plain, dataclasses.replace(tiny.training, steps=4, restart_every=1))
    plain_restarts.step()
    assert plain_restarts.moved == 0
    off = _lamp_gan(tiny)
    before = off.island_centres.clone()
    restarts = gan.IslandRestarts(off, dataclasses.replace(_lamp_training(tiny, steps=4), restart_every=0))
    for _ in range(3):
        restarts.step()
    assert restarts.moved == 0 and torch.equal(off.island_centres, before)


def test_judge_on_real_pictures():
    from course_lib import oracle
    from course_lib.datasets import ShapesDataset
    from course_lib.shapes import render, sample_scenes

    images = ShapesDataset(300, split="train", kind="one", seed=0).images
    figures = gan.judge(images)
    assert figures["validity"] == 1.0 and 0.6 < figures["coverage"] <= 1.0
    two_objects = render(sample_scenes(10, seed=0, kind="two"))  # clean scenes, but not what G was shown
    assert all(r.valid for r in oracle.read(two_objects)) and gan.judge(two_objects)["validity"] == 0.0
    assert len(gan.coverage_universe()) == 189


def test_unknown_preset():
    with pytest.raises(ValueError, match="workshop"):
        gan.preset("huge")

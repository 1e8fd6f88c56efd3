"""course_lib.text_gan: the text encoder, shapes, the three-pair loss, gradient flow, determinism."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import captions, checkpoints, clip, gan, stages, text_gan
from course_lib.train import seeded


@pytest.fixture
def tiny():
    return text_gan.preset("tiny")  # (config, training)


PROMPTS = ["a big red circle in the middle", "top left : a small blue box",
           "a red circle above a blue square", "a blue square above a red circle"]


def test_phi_rejects_unknown_words(tiny):
    model = text_gan.TextGAN(tiny.config)
    with pytest.raises(captions.CaptionError, match="unicorn"):
        model.phi(["a red unicorn"])


def test_build_starts_phi_from_the_shipped_clip():
    config = text_gan.preset("smoke").config
    assert config.pretrained_text
    model = text_gan.build(config)
    shipped = checkpoints.load(checkpoints.shipped("clip"), clip.ShapesCLIP, clip.ClipConfig).eval()
    with torch.no_grad():
        assert torch.allclose(model.encoder(PROMPTS), shipped.encode_text(PROMPTS), atol=1e-6)
    phi = model.phi(PROMPTS)  # unit vectors scaled by √phi_dim
    assert torch.allclose(phi.norm(dim=1), torch.full((4,), config.phi_dim ** 0.5))
    assert not torch.allclose(text_gan.TextGAN(config).phi(PROMPTS), phi)  # a plain TextGAN is random


def test_train_and_save_takes_phi_from_a_clip_trained_into_the_same_folder(tmp_path):
    torch.manual_seed(1)
    local = clip.ShapesCLIP(clip.PRESETS["tiny"].config).eval()  # other sizes than the shipped CLIP's
    checkpoints.save(local, tmp_path / "clip", local.config, mode="smoke")
    stages.train_and_save("text_gan", "smoke", tmp_path)
    trained = checkpoints.load(tmp_path / "text_gan", text_gan.TextGAN, text_gan.TextGANConfig)
    assert trained.config.phi_dim == local.config.embed_dim
    with torch.no_grad():
        assert torch.allclose(trained.encoder(PROMPTS), local.encode_text(PROMPTS), atol=1e-6)


def test_encoder_ignores_padding_and_reads_word_order(tiny):
    model = text_gan.TextGAN(tiny.config).eval()
    alone = model.phi(["a red circle"])
    padded = model.phi(["a red circle", "a big red circle in the middle"])[:1]
    assert torch.allclose(alone, padded, atol=1e-6)
    phi = model.phi(PROMPTS[2:])  # same bag of words, different meaning
    assert not torch.allclose(phi[0], phi[1])


def test_shapes_and_range(tiny):
    model = text_gan.TextGAN(tiny.config).eval()
    phi = model.phi(PROMPTS)
    assert phi.shape == (4, tiny.config.phi_dim)
    images = model.generate(model.noise(4, seed=0), phi)
    assert images.shape == (4, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    assert model.score(images, phi).shape == (4,)
    assert model.sample(PROMPTS[:3]).shape == (3, 3, 32, 32)


def test_mismatched_gives_each_caption_another_real_picture():
    images = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 32, 32)
    wrong = text_gan.mismatched(images)
    assert wrong.shape == images.shape
    assert all(not torch.equal(wrong[i], images[i]) for i in range(4))
    assert sorted(wrong[:, 0, 0, 0].tolist()) == [0.0, 1.0, 2.0, 3.0]  # the same pictures, reassigned


def test_three_pair_loss_matches_reed_et_al():
    s_r, s_w, s_f = torch.tensor([1.5, -0.5]), torch.tensor([0.3, -2.0]), torch.tensor([2.0, 0.1])
    sig = torch.sigmoid
    expected = -(torch.log(sig(s_r)) + (torch.log(1 - sig(s_w)) + torch.log(1 - sig(s_f))) / 2).mean()
    assert torch.allclose(text_gan.discriminator_loss(s_r, s_w, s_f), expected)


def test_three_pair_loss_labels_each_pair():
    # each pair must be present (non-zero gradient) and carry its label: real/right pushed towards 1
    # (gradient of the loss negative), wrong/right and fake/right towards 0 (gradient positive)
    logits = [torch.zeros(3, requires_grad=True) for _ in range(3)]
    text_gan.discriminator_loss(*logits).backward()
    real, wrong, fake = (t.grad for t in logits)
    assert (real < 0).all() and (wrong > 0).all() and (fake > 0).all()
    assert torch.allclose(wrong, fake) and torch.allclose(real.abs(), 2 * wrong)


def test_three_pair_loss_is_the_sum_of_its_pairs():
    s = [torch.randn(5) for _ in range(3)]
    bce = F.binary_cross_entropy_with_logits
    parts = bce(s[0], torch.ones(5)) + 0.5 * bce(s[1], torch.zeros(5)) + 0.5 * bce(s[2], torch.zeros(5))
    assert torch.allclose(text_gan.discriminator_loss(*s), parts)


@pytest.mark.parametrize("weight", [0.0, 0.25, 0.5])
def test_wrong_weight_shares_the_zero_verdict_between_wrong_and_fake(weight):
    s = [torch.randn(5) for _ in range(3)]
    bce = F.binary_cross_entropy_with_logits
    parts = bce(s[0], torch.ones(5)) + weight * bce(s[1], torch.zeros(5)) + (1 - weight) * bce(s[2], torch.zeros(5))
    assert torch.allclose(text_gan.discriminator_loss(*s, wrong_weight=weight), parts)
    if weight == 0:  # no wrong pair: notebook 01's D loss
        assert torch.allclose(text_gan.discriminator_loss(*s, wrong_weight=0.0), gan.discriminator_loss(s[0], s[2]))


def test_without_the_wrong_pair_d_never_scores_a_wrong_picture(tiny, monkeypatch):
    real = torch.rand(4, 3, 32, 32)
    calls = []
    monkeypatch.setattr(text_gan, "mismatched", lambda images: calls.append(1) or images.roll(1, dims=0))
    for weight, wrong_pairs in ((0.5, 1), (0.0, 0)):
        calls.clear()
        model = text_gan.TextGAN(tiny.config).train()
        text_gan.train_step(model, *text_gan.optimizers(model, tiny.training), real, PROMPTS, model.noise(4, 0), weight)
        assert len(calls) == wrong_pairs


def test_wrong_weight_reaches_training_and_changes_the_model(tiny):
    data = [(torch.rand(3, 32, 32), p) for p in PROMPTS * 2]
    config, training = tiny

    def trained(weight):
        with seeded(training.seed):
            model = text_gan.build(config)
        return text_gan.train(model, dataclasses.replace(training, wrong_weight=weight), data=data, progress=False)[0]

    assert training.wrong_weight == 0.5  # Reed et al.'s recipe by default
    recipe, plain = trained(0.5), trained(0.0)
    assert not torch.equal(recipe.sample(PROMPTS, seed=3), plain.sample(PROMPTS, seed=3))
    assert torch.equal(plain.sample(PROMPTS, seed=3), trained(0.0).sample(PROMPTS, seed=3))  # same start, same seed


def test_step_trains_both_players_and_leaves_the_encoder_frozen(tiny):
    model = text_gan.TextGAN(tiny.config).train()
    opt_g, opt_d = text_gan.optimizers(model, tiny.training)
    players = {id(p) for opt in (opt_g, opt_d) for g in opt.param_groups for p in g["params"]}
    names = {n for n, _ in model.named_parameters()}
    encoder = {n for n in names if n.startswith("encoder.")}
    assert encoder and players == {id(p) for n, p in model.named_parameters() if n not in encoder}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = text_gan.train_step(model, opt_g, opt_d, torch.rand(4, 3, 32, 32), PROMPTS, model.noise(4, 0))
    assert set(losses) == {"D", "G"} and all(math.isfinite(v) for v in losses.values())
    moved = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
    assert moved == names - encoder  # every weight of G, D and their projections moved; φ's did not
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.g_project.parameters())


def test_deterministic_under_a_seed(tiny):
    data = [(torch.rand(3, 32, 32), p) for p in PROMPTS * 2]
    config, training = tiny

    def built():
        with seeded(training.seed):  # as ``Stage.fit`` builds it
            return text_gan.build(config)

    runs = [text_gan.train(built(), training, data=data, progress=False)[0] for _ in range(2)]
    assert torch.equal(runs[0].sample(PROMPTS, seed=3), runs[1].sample(PROMPTS, seed=3))


def test_training_fades_the_instance_noise(tiny):
    batch = (torch.rand(4, 3, 32, 32), PROMPTS[:4])
    config, training = tiny
    model = text_gan.TextGAN(config).train()
    step = text_gan.make_step(model, training)
    assert training.steps == 2 and training.instance_noise > 0
    assert model.discriminator.noise_std == pytest.approx(training.instance_noise)
    step(batch)
    assert 0 < model.discriminator.noise_std < training.instance_noise  # after one step of two: lower, not yet off
    step(batch)
    assert model.discriminator.noise_std == 0.0


def test_prompts_and_evaluate(tiny):
    from course_lib import eval_sets

    seen, heldout = eval_sets.prompts(20, "train"), eval_sets.prompts(20, "heldout")
    assert len(seen) == 20 and all(captions.parse(p) for p in seen)
    assert any("purple triangle" in p or "cyan square" in p or "yellow diamond" in p for p in heldout)
    figures = text_gan.evaluate(text_gan.TextGAN(tiny.config), n=8, kind=tiny.training.kind)
    assert set(figures) == {"caption_acc_seen", "caption_acc_heldout"}

"""VQ-VAE and VQ-GAN: the encode/decode API, the VQ-GAN's losses against hand computations, one step."""
import pytest
import torch
import torch.nn.functional as F

from course_lib import checkpoints, vqgan, vqvae


@pytest.mark.parametrize("model_cls, module", [(vqvae.VQVAE, vqvae), (vqgan.VQGAN, vqgan)])
def test_encode_decode_round_trip_shapes_and_dtypes(model_cls, module):
    torch.manual_seed(0)
    model = model_cls(module.preset("smoke").config).eval()
    images = torch.rand(3, 3, 32, 32)
    ids = model.encode(images)
    assert ids.shape == (3, 8, 8) and ids.dtype == torch.long
    assert 0 <= int(ids.min()) and int(ids.max()) < model.config.codebook_size
    out = model.decode(ids)
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_decode_of_encode_matches_the_forward_pass():
    torch.manual_seed(0)
    model = vqvae.VQVAE(vqvae.preset("smoke").config).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        reconstruction, vq = model(images)
    assert torch.equal(vq.ids, model.encode(images))
    assert torch.allclose(model.decode(vq.ids), reconstruction.clamp(0, 1), atol=1e-6)


def test_reconstruction_loss_is_mse_over_variance():
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    assert vqvae.reconstruction_loss(a, b, 0.05).item() == pytest.approx(0.25 / 0.05)


def test_laplacian_pyramid_adds_back_up_to_the_picture():
    x = torch.rand(2, 3, 32, 32)
    bands = vqgan.laplacian_pyramid(x)
    assert [b.shape[-1] for b in bands] == [32, 16, 8]
    rebuilt = bands[-1]
    for band in reversed(bands[:-1]):
        rebuilt = band + F.interpolate(rebuilt, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(rebuilt, x, atol=1e-6)
    assert vqgan.perceptual_loss(x, x).item() == 0


def test_hinge_loss_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5
    assert vqgan.hinge_d_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 0.5))


def test_adaptive_weight_is_the_ratio_of_gradient_norms():
    w = torch.tensor([[1.0, 2.0]], requires_grad=True)
    x = torch.tensor([3.0, 4.0])
    rec = (w @ x) ** 2          # grad = 2 (w.x) x = 2 * 11 * (3, 4): norm 110
    gan = -(w @ x) * 0.5        # grad = -0.5 * (3, 4): norm 2.5
    weight = vqgan.adaptive_weight(rec.sum(), gan.sum(), w)
    assert weight.item() == pytest.approx(110 / (2.5 + 1e-4))
    assert not weight.requires_grad


def test_patch_discriminator_scores_an_8x8_grid_of_patches():
    d = vqgan.PatchDiscriminator(8)
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 1, 8, 8)


def test_one_vqgan_step_trains_both_players(tmp_path):
    torch.manual_seed(0)
    config, training = vqgan.preset("smoke")
    model = vqgan.VQGAN(config)
    before_d = [p.clone() for p in model.discriminator.parameters()]
    before_g = model.last_layer().clone()
    losses = vqgan.make_step(model, training, 0.05)(torch.rand(4, 3, 32, 32))
    assert {"reconstruction", "adversarial", "disc", "adaptive_weight", "usage"} <= set(losses)
    assert not torch.equal(before_g, model.last_layer())
    assert any(not torch.equal(a, b) for a, b in zip(before_d, model.discriminator.parameters()))
    checkpoints.save(model, tmp_path / "vqgan", model.config)
    again = vqgan.load_tokenizer(tmp_path / "vqgan")
    images = torch.rand(2, 3, 32, 32)
    assert torch.equal(again.encode(images), model.eval().encode(images))

"""The vector-quantisation layer against the slide's argmin and a hand computation, on tiny tensors."""
import pytest
import torch

from course_lib.vq import VectorQuantizer, perplexity, quantize, usage


def test_quantize_is_the_slides_argmin_and_returns_codebook_rows():
    torch.manual_seed(0)
    z, codebook = torch.randn(50, 4), torch.randn(7, 4)
    rows, ids = quantize(z, codebook)
    expected = torch.tensor([min(range(7), key=lambda i: torch.dist(v, codebook[i]).item()) for v in z])
    assert torch.equal(ids, expected)
    assert torch.equal(rows, codebook[ids])  # exactly a row, not an approximation


@pytest.mark.parametrize("ema", [False, True])
def test_layer_output_is_exactly_a_codebook_row(ema):
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 3, ema=ema).eval()
    out = vq(torch.randn(2, 3, 4, 4))
    rows = out.z_q.permute(0, 2, 3, 1).reshape(-1, 3)
    assert out.ids.shape == (2, 4, 4) and out.ids.dtype == torch.long
    assert torch.equal(rows, vq.codebook[out.ids.flatten()])


def test_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 2)
    z_e = torch.randn(1, 2, 3, 3, requires_grad=True)
    out = vq(z_e)
    (out.z_q * torch.arange(18.0).view(1, 2, 3, 3)).sum().backward()
    # the quantiser is the identity for the gradient: d(sum w * z_q)/dz_e = w
    assert torch.equal(z_e.grad, torch.arange(18.0).view(1, 2, 3, 3))


def test_losses_match_a_hand_computation_and_beta_weights_commitment():
    vq = VectorQuantizer(2, 1, beta=0.25)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0], [1.0]]))
    z_e = torch.tensor([0.2, 0.9, 2.0]).view(1, 1, 1, 3)  # nearest codes 0, 1, 1
    out = vq.eval()(z_e)
    sq = (0.2 - 0) ** 2 + (0.9 - 1) ** 2 + (2.0 - 1) ** 2
    assert out.ids.tolist() == [[[0, 1, 1]]]
    assert out.codebook_loss.item() == pytest.approx(sq / 3)
    assert out.commitment_loss.item() == pytest.approx(sq / 3)
    assert out.loss.item() == pytest.approx(sq / 3 + 0.25 * sq / 3)
    vq.beta = 2.0
    assert vq(z_e).loss.item() == pytest.approx(sq / 3 + 2.0 * sq / 3)


def test_codebook_loss_moves_codes_and_commitment_moves_the_encoder():
    vq = VectorQuantizer(4, 2)
    z_e = torch.randn(1, 2, 2, 2, requires_grad=True)
    out = vq(z_e)
    codes = torch.autograd.grad(out.codebook_loss, [vq.codebook, z_e], allow_unused=True)
    commit = torch.autograd.grad(out.commitment_loss, [vq.codebook, z_e], allow_unused=True)
    assert codes[1] is None and codes[0].abs().sum() > 0
    assert commit[0] is None and commit[1].abs().sum() > 0


def test_perplexity_and_usage():
    assert perplexity(torch.zeros(10, dtype=torch.long), 4) == pytest.approx(1.0)
    assert perplexity(torch.arange(4).repeat(5), 4) == pytest.approx(4.0)
    assert usage(torch.tensor([0, 0, 2]), 4) == 0.5


def _train_usage(ema: bool, restart: bool, steps: int = 60) -> float:
    """Fit a codebook of 32 codes to 2-D data far from the codes' initial place (near 0); return usage."""
    torch.manual_seed(0)
    vq = VectorQuantizer(32, 2, ema=ema, restart=restart)
    opt = torch.optim.SGD([vq.codebook], lr=0.5)
    for _ in range(steps):
        out = vq(torch.randn(1, 2, 16, 16) + 5)
        if not ema:  # EMA moves the codes itself; otherwise the codebook loss does
            opt.zero_grad()
            out.codebook_loss.backward()
            opt.step()
    return usage(vq.eval()(torch.randn(1, 2, 64, 64) + 5).ids, 32)


def test_without_fixes_the_codebook_collapses_and_restart_cures_it():
    collapsed = _train_usage(ema=False, restart=False)
    restarted = _train_usage(ema=False, restart=True)
    assert collapsed <= 0.1      # one code wins every vector and the others never move
    assert restarted >= 0.9


def test_ema_moves_codes_to_the_mean_of_their_vectors():
    vq = VectorQuantizer(2, 1, ema=True, decay=0.0)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0], [1.0]]))
    vq(torch.tensor([0.1, 0.3, 0.8, 1.6]).view(1, 1, 1, 4))
    assert vq.codebook.flatten().tolist() == pytest.approx([0.2, 1.2], abs=1e-4)


def test_ema_with_restart_uses_more_codes_than_ema_alone():
    assert _train_usage(ema=True, restart=True) > _train_usage(ema=True, restart=False)

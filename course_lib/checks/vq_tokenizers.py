"""Self-checks for notebooks 05_vq_vae and 06_vq_gan, the two image tokenizers: code perplexity,
the vector-quantisation layer and its gradients, the token budget, the VQ-GAN's losses and the
tokenizer's round trip."""
from __future__ import annotations

from typing import Callable

import torch

from .. import shapes
from .harness import Hint, attempt, call, compare, gap, logits_of, same, show


# --- notebook 05: VQ-VAE ------------------------------------------------------------------------

def my_perplexity(fn: Callable[[torch.Tensor, int], float]) -> bool:
    """Notebook 05, exercise 1: the learner's ``fn(ids, k)`` = exp of the entropy of the code frequencies
    in ``ids``, as ``vq.perplexity``."""
    from .. import vq

    generator = torch.Generator().manual_seed(0)
    cases = [("ids all 3, k=8", (torch.full((2, 4, 4), 3), 8)), ("ids 0..15 once each, k=16", (torch.arange(16), 16)),
             ("random ids in 0..9, k=256", (torch.randint(0, 10, (4, 8, 8), generator=generator), 256))]
    return compare("my_perplexity", fn, vq.perplexity, cases, tolerance=1e-3)


def _vq_reference(z_e: torch.Tensor, codebook: torch.Tensor, beta: float):
    from .. import vq

    layer = vq.VectorQuantizer(*codebook.shape, beta=beta).eval()
    out = torch.func.functional_call(layer, {"codebook": codebook}, (z_e,))  # gradients reach ``codebook``
    return out.z_q, out.ids, out.loss


def vq_layer(fn: Callable[..., tuple]) -> bool:
    """Notebook 05, exercise 2: ``fn(z_e (B, D, H, W), codebook (K, D), beta)`` -> (z_q, ids, loss) as
    ``vq.VectorQuantizer``: nearest codes, the straight-through gradient, codebook + beta × commitment loss."""
    generator = torch.Generator().manual_seed(0)
    cases = [(f"z_e {shape}, codebook ({k}, {shape[1]}), beta={beta}",
              torch.randn(*shape, generator=generator), torch.randn(k, shape[1], generator=generator), beta)
             for shape, k, beta in (((1, 2, 2, 2), 4, 0.25), ((2, 3, 4, 4), 8, 2.0))]

    def run():
        for what, z_e, codebook, beta in cases:
            z, e = z_e.clone().requires_grad_(), codebook.clone().requires_grad_()
            got = call(fn, z, e, beta, call=f"your function on {what}")
            z_ref, e_ref = z_e.clone().requires_grad_(), codebook.clone().requires_grad_()
            expected = _vq_reference(z_ref, e_ref, beta)
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise Hint(f"for {what} it returned {show(got)}; expected three things: (z_q, ids, loss)")
            for name, g, x, tol in zip(("z_q", "ids", "loss"), got, expected, (1e-5, 0, 1e-5)):
                if not same(g, x, tol) or (name == "ids" and g.dtype != torch.long):
                    raise Hint(f"for {what} its {name} was {show(g)}; expected {show(x)}{gap(g, x)}")
            weights = torch.randn(z_e.shape, generator=generator)
            for name, out, ref in (("z_q", got[0], expected[0]), ("loss", got[2], expected[2])):
                w = weights if name == "z_q" else 1.0
                grads = torch.autograd.grad((out * w).sum(), (z, e), allow_unused=True)
                grads_ref = torch.autograd.grad((ref * w).sum(), (z_ref, e_ref), allow_unused=True)
                for wrt, g, x in zip(("z_e", "the codebook"), grads, grads_ref):
                    if g is None and x is None:
                        continue
                    g = torch.zeros_like(x) if g is None else g
                    x = torch.zeros_like(g) if x is None else x
                    if not torch.allclose(g, x, atol=1e-5):
                        hint = (" (the straight-through estimator passes z_q's gradient to z_e unchanged)"
                                if name == "z_q" else " (codebook loss moves the codes, beta × commitment the encoder)")
                        raise Hint(f"for {what} the gradient of {name} with respect to {wrt} is wrong: it differs "
                                   f"from the reference by up to {(g - x).abs().max().item():.4g}{hint}")
        return f"right on {len(cases)} cases, values and gradients"

    return attempt("vq_layer", run)


def token_budget(fn: Callable[..., tuple]) -> bool:
    """Notebook 05, exercise 3: ``fn(n_tokens, codebook_size, height, width)`` -> (bits in one token grid,
    how many times fewer than the raw 8-bit RGB picture)."""
    import math

    def reference(n_tokens, codebook_size, height, width):
        bits = n_tokens * math.log2(codebook_size)
        return bits, height * width * 3 * 8 / bits

    cases = [(f"{label}: {n} tokens of {k} codes for {h}×{w} pictures", (n, k, h, w))
             for label, n, k, h, w in (("our VQ-VAE", 64, 256, 32, 32), ("DALL·E's dVAE", 1024, 8192, 256, 256),
                                       ("Dall·E Mini's VQGAN", 256, 16384, 256, 256), ("a 16-code toy", 16, 16, 8, 8))]
    return compare("token_budget", fn, reference, cases, tolerance=1e-6)


# --- notebook 06: VQ-GAN ------------------------------------------------------------------------

def hinge_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 06, exercise 1: the discriminator's hinge loss, as ``vqgan.hinge_d_loss``."""
    from .. import vqgan

    generator = torch.Generator().manual_seed(0)
    patches = torch.randn(2, 2, 1, 8, 8, generator=generator)
    cases = [("real 0, fake 0", (logits_of(0.0), logits_of(0.0))),
             ("real 2, fake -2 (no loss)", (logits_of(2.0), logits_of(-2.0))),
             ("random patch logits (2, 1, 8, 8)", (patches[0], patches[1]))]
    return compare("hinge_loss", fn, vqgan.hinge_d_loss, cases)


def _adaptive_case(seed: int):
    """A last layer and two losses built on it (fresh graphs each call)."""
    generator = torch.Generator().manual_seed(seed)
    layer = torch.randn(4, 3, generator=generator).requires_grad_()
    a, b = torch.randn(4, 3, generator=generator), torch.randn(4, 3, generator=generator)
    rec = (layer * a).pow(2).sum()
    gan_loss = -(layer * b).sum() * (0.0 if seed == 2 else 10.0 ** (seed - 1))
    return rec, gan_loss, layer


def my_adaptive_weight(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 06, exercise 2: ``fn(rec_loss, gan_loss, last_layer)`` = ||∇L_rec|| / (||∇L_GAN|| + 1e-4)
    at the last layer, clamped to [0, 1e4], as ``vqgan.adaptive_weight``."""
    from .. import vqgan

    cases = [(f"losses on a (4, 3) last layer, {what}", (seed,))
             for seed, what in ((0, "a weak GAN loss"), (1, "comparable losses"), (3, "a strong GAN loss"),
                                (2, "a GAN loss with no gradient (the clamp)"))]
    return compare("my_adaptive_weight", lambda seed: fn(*_adaptive_case(seed)),
                   lambda seed: vqgan.adaptive_weight(*_adaptive_case(seed)), cases, tolerance=1e-3)


def _tiny_tokenizer():
    from ..vqvae import VQVAE, VQVAEConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return VQVAE(VQVAEConfig(channels=8, code_dim=4, codebook_size=16)).eval()


def round_trip(fn: Callable[..., float]) -> bool:
    """Notebook 06, exercise 3: ``fn(model, images)`` = share of tokens that come back the same after
    encode, decode, encode."""
    model = _tiny_tokenizer()
    scenes = shapes.sample_scenes(6, seed=10, kind="mixed")
    pictures = shapes.render(scenes)

    def reference(model, images):
        first = model.encode(images)
        return (first == model.encode(model.decode(first))).float().mean().item()

    cases = [(f"a tiny random tokenizer, {n} pictures", (model, pictures[:n])) for n in (6, 1)]
    cases.append(("a tiny random tokenizer, 2 black pictures", (model, torch.zeros(2, 3, 32, 32))))
    return compare("round_trip", fn, reference, cases, tolerance=1e-6)


# --- notebook 05, exercise 4: restarting dead codes ----------------------------------------------

def restart_dead_codes(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 05, exercise 4: ``fn(codebook (K, D), code_use (K,), flat (N, D), dead_below, generator)``
    -> a new codebook whose dead codes (``code_use < dead_below``) are moved onto encoder outputs
    ``flat[torch.randint(N, (dead,), generator=generator)]``, in code order, the others kept:
    ``vq.VectorQuantizer``'s restart."""
    from .. import vq

    def reference(codebook, code_use, flat, dead_below, seed):
        layer = vq.VectorQuantizer(*codebook.shape, restart=True, decay=1.0, dead_below=dead_below)  # decay 1: use as given
        layer.codebook.data.copy_(codebook)
        layer.code_use.copy_(code_use)
        with torch.random.fork_rng(devices=[]):  # the library draws from the global generator: seed it alike
            torch.manual_seed(seed)
            layer._update(flat, torch.zeros(len(flat), dtype=torch.long))
        return layer.codebook.detach().clone()

    generator = torch.Generator().manual_seed(0)
    codebook, flat = torch.randn(6, 3, generator=generator), torch.randn(20, 3, generator=generator)
    cases = [(f"codebook (6, 3), code_use {use.tolist()}, 20 encoder outputs, dead_below={below}, generator seeded {seed}",
              (codebook, use, flat, below, seed))
             for use, below, seed in ((torch.tensor([5.0, 0.0, 2.0, 0.5, 3.0, 0.0]), 1.0, 0),
                                      (torch.tensor([5.0, 0.0, 2.0, 0.5, 3.0, 0.0]), 2.0, 7),
                                      (torch.full((6,), 4.0), 1.0, 1))]
    return compare("restart_dead_codes", lambda c, u, f, below, seed: fn(c.clone(), u.clone(), f, below,
                                                                         torch.Generator().manual_seed(seed)),
                   reference, cases)

"""Our VQ layer (``course_lib.vq``) side by side with vector-quantize-pytorch, a widely used peer.

The same VQ-VAE (``vqvae.VQVAE``: same encoder and decoder, same initial weights), the same codebook
(size, dimension, commitment weight 0.25, EMA decay 0.99, dead codes restarted below one use per
batch), the same ShapesWorld pictures in the same order and the same number of steps; only the
quantiser differs. The peer is wrapped in ``PeerQuantizer`` so that ``vqvae.make_step`` trains both
and ``vqvae.evaluate`` measures both (oracle agreement, codebook usage and perplexity), unchanged.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from course_lib import datasets, vqvae
from course_lib.train import fit, seeded
from course_lib.vq import VQOutput

from .timing import Budget, seconds

LAYER_CALLS = 20  # forward + backward passes timed for the quantiser alone


class PeerQuantizer(nn.Module):
    """vector-quantize-pytorch's ``VectorQuantize`` behind our layer's interface (``VQOutput``, ``lookup``),
    configured as ours: EMA codebook, dead-code restart, straight-through gradient."""

    def __init__(self, codebook_size: int, dim: int, *, beta: float, decay: float = 0.99,
                 dead_below: float = 1.0):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.codebook_size, self.beta = codebook_size, beta
        self.vq = VectorQuantize(dim=dim, codebook_size=codebook_size, decay=decay, commitment_weight=beta,
                                 threshold_ema_dead_code=dead_below, accept_image_fmap=True,
                                 rotation_trick=False)

    def forward(self, z_e: torch.Tensor) -> VQOutput:
        """(B, D, H, W) -> ``VQOutput``; the peer's loss is beta × commitment (EMA learns the codes)."""
        z_q, ids, loss = self.vq(z_e)
        return VQOutput(z_q, ids, loss, loss.new_zeros(()), loss / self.beta)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, H, W) -> codes (B, D, H, W)."""
        return self.vq.get_codes_from_indices(ids)


def build(config: vqvae.VQVAEConfig, peer: bool) -> vqvae.VQVAE:
    """The VQ-VAE of ``config``; with ``peer`` its quantiser swapped for ``PeerQuantizer``. Called
    under the same seed, both get the same encoder and decoder weights."""
    model = vqvae.VQVAE(config)
    if peer:
        model.quantizer = PeerQuantizer(config.codebook_size, config.code_dim, beta=config.beta)
    return model


def _layer_seconds(quantizer: nn.Module, config: vqvae.VQVAEConfig, batch_size: int, device: torch.device) -> float:
    """Seconds per forward + backward pass of the quantiser alone on a batch of 8×8 encoder outputs."""
    z = torch.randn(batch_size, config.code_dim, 8, 8, device=device, requires_grad=True)
    quantizer.train()

    def passes():
        for _ in range(LAYER_CALLS):
            out = quantizer(z)
            (out.z_q.sum() + out.loss).backward()

    passes()
    return seconds(passes)[0] / LAYER_CALLS


def compare(budget: Budget, device: torch.device) -> dict[str, float]:
    """Train the VQ-VAE with each quantiser for ``budget.peer_steps`` steps and measure both."""
    config, training = vqvae.preset("workshop")
    training = dataclasses.replace(training, steps=budget.peer_steps, seconds=None,
                                   n_train=min(10_000, budget.peer_steps * 64))
    images = vqvae.training_images(training)
    test = vqvae.test_images(budget.samples).to(device)
    figures: dict[str, float] = {"steps": training.steps, "codebook_size": config.codebook_size}
    for name, peer in (("ours", False), ("peer", True)):
        with seeded(training.seed):  # the same weights, batches and restarts for both
            model = build(config, peer).to(device)
            step = vqvae.make_step(model, training, float(images.var()))
            batches = datasets.loader(torch.utils.data.TensorDataset(images), training.batch_size, seed=training.seed)
            history = fit(lambda batch: step(batch[0].to(device)), batches, training.budget, progress=False)
        scores = vqvae.evaluate(model.eval(), test)
        figures |= {f"{name}_{metric}": scores[metric] for metric in ("recon_agreement", "code_usage", "perplexity", "mse")}
        figures |= {f"{name}_train_steps_per_s": history.steps / history.seconds,
                    f"{name}_layer_seconds_per_call": _layer_seconds(model.quantizer, config, training.batch_size, device)}
    return figures

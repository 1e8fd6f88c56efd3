"""The vector-quantisation layer: continuous encoder outputs become codebook entries (tokens).

Follows van den Oord et al. 2017, "Neural Discrete Representation Learning" (VQ-VAE), and the
slide "The Vector-Quantization Layer":

    q(z = e_k | x) = 1  if  k = argmin_i ||z_e(x) - e_i||_2,   0 otherwise.

- ``quantize``: the nearest codebook row for every vector, the slide's argmin written out.
- Straight-through gradient: the decoder sees e_k, the encoder receives the decoder's gradient as if
  quantisation were the identity, ``z_q = z_e + sg[e_k - z_e]`` (sg = stop gradient, ``.detach()``),
  written ``sg[e_k] + (z_e - sg[z_e])`` so that the forward value is exactly the codebook row.
- Losses: codebook ``||sg[z_e] - e||^2`` pulls the codes to the encoder outputs; commitment
  ``beta * ||z_e - sg[e]||^2`` keeps the encoder near its codes (beta = 0.25 in the paper).

Two fixes against codebook collapse (a few codes do all the work, the rest never move), each a
switch on ``VectorQuantizer`` so a notebook can show collapse and its cure:
- ``ema=True``: codes are exponential moving averages of the vectors assigned to them instead of
  being learnt by gradient (Razavi et al. 2019, VQ-VAE-2, appendix; van den Oord et al. 2017, A.1).
- ``restart=True``: a code picked fewer than ``dead_below`` times per batch (moving average) is moved
  onto a random encoder output of the batch, as Jukebox does (Dhariwal et al. 2020).
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn


@torch.autocast("cuda", enabled=False)
def quantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest codebook row for each vector: (N, D) vectors, (K, D) codebook -> ((N, D) rows, (N,) ids).

    ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2, computed for every pair, then the argmin over codes. Always
    in the codebook's precision (fp32), also when training runs in bf16 (``train.mixed_precision``):
    bf16's 8 bits of mantissa would round near-equal distances together and pick the wrong code.
    """
    z = z.to(codebook.dtype)
    distances = (z.pow(2).sum(1, keepdim=True)      # (N, 1)
                 - 2 * z @ codebook.t()              # (N, K)
                 + codebook.pow(2).sum(1)[None, :])  # (1, K)
    ids = distances.argmin(1)                        # (N,)
    return codebook[ids], ids


def perplexity(ids: torch.Tensor, codebook_size: int) -> float:
    """exp(entropy) of how often each code is used: 1 when one code does everything, K when all are
    used equally. ``ids``: token ids of any shape."""
    p = torch.bincount(ids.flatten(), minlength=codebook_size).float()
    p = p / p.sum()
    return float(torch.exp(-(p * torch.log(p + 1e-10)).sum()))


def usage(ids: torch.Tensor, codebook_size: int) -> float:
    """Share of the codebook that appears at least once in ``ids``."""
    return float((torch.bincount(ids.flatten(), minlength=codebook_size) > 0).float().mean())


@dataclasses.dataclass
class VQOutput:
    """What the layer returns; every intermediate is kept so a notebook can look at it."""

    z_q: torch.Tensor              # (B, D, H, W) quantised, with the straight-through gradient
    ids: torch.Tensor              # (B, H, W) long, the tokens
    loss: torch.Tensor             # codebook + beta * commitment (codebook term is 0 with EMA)
    codebook_loss: torch.Tensor    # ||sg[z_e] - e||^2
    commitment_loss: torch.Tensor  # ||z_e - sg[e]||^2, before the beta weight


class VectorQuantizer(nn.Module):
    """``codebook_size`` codes of ``dim`` numbers; maps (B, D, H, W) encoder outputs to codes.

    ``beta`` weights the commitment term. ``ema`` learns the codes by moving averages (with
    ``decay``) instead of the codebook loss; ``restart`` re-seeds dead codes from the batch.
    """

    def __init__(self, codebook_size: int, dim: int, *, beta: float = 0.25, ema: bool = False,
                 restart: bool = False, decay: float = 0.99, dead_below: float = 1.0):
        super().__init__()
        self.codebook_size, self.dim, self.beta = codebook_size, dim, beta
        self.ema, self.restart, self.decay, self.dead_below = ema, restart, decay, dead_below
        init = torch.empty(codebook_size, dim).uniform_(-1 / codebook_size, 1 / codebook_size)
        self.codebook = nn.Parameter(init, requires_grad=not ema)  # (K, D)
        # how often each code is picked per batch, moving average (used by EMA and by restart)
        self.register_buffer("code_use", torch.ones(codebook_size))
        self.register_buffer("code_sum", init.clone())  # (K, D) EMA of the sum of assigned vectors

    def forward(self, z_e: torch.Tensor) -> VQOutput:
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)                  # (B*H*W, D)
        e, ids = quantize(flat.detach(), self.codebook)
        if self.training:
            self._update(flat.detach(), ids)
            e = self.codebook[ids] if self.ema else e                  # codes moved: re-read them
        codebook_loss = F.mse_loss(e, flat.detach())                   # gradient to the codes only
        commitment_loss = F.mse_loss(flat, e.detach())                 # gradient to the encoder only
        z_q = e.detach() + (flat - flat.detach())  # straight-through: exactly e, gradient 1 to z_e
        loss = self.beta * commitment_loss + (0.0 if self.ema else codebook_loss)
        z_q = z_q.view(b, h, w, d).permute(0, 3, 1, 2)                 # (B, D, H, W)
        return VQOutput(z_q, ids.view(b, h, w), loss, codebook_loss, commitment_loss)

    @torch.no_grad()
    @torch.autocast("cuda", enabled=False)
    def _update(self, flat: torch.Tensor, ids: torch.Tensor) -> None:
        """EMA codebook update and dead-code restart (only while training), in fp32 as ``quantize``."""
        flat = flat.to(self.codebook.dtype)
        onehot = F.one_hot(ids, self.codebook_size).type(flat.dtype)   # (N, K)
        self.code_use.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        if self.ema:
            self.code_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
            n = self.code_use.sum()  # Laplace smoothing keeps unused codes from dividing by zero
            count = (self.code_use + 1e-5) / (n + self.codebook_size * 1e-5) * n
            self.codebook.data.copy_(self.code_sum / count[:, None])
        if self.restart:
            dead = self.code_use < self.dead_below                     # (K,) bool
            if dead.any():
                picks = flat[torch.randint(len(flat), (int(dead.sum()),), device=flat.device)]
                self.codebook.data[dead] = picks
                self.code_sum[dead] = picks * self.code_use[dead, None]

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, H, W) -> their codes as a feature map (B, D, H, W)."""
        return self.codebook[ids].permute(0, 3, 1, 2)

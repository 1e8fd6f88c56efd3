"""Picture statistics that need no oracle: sharpness and diversity of a batch.

Used to put numbers on the slides' comparisons ("GANs give sharper images than VAEs", "VQ-GAN is
sharper than VQ-VAE at the same token budget").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpness(images: torch.Tensor) -> float:
    """Mean energy of the Laplacian (second differences) over (B, 3, H, W) pictures in [0, 1].

    Blurry pictures have weak second differences, crisp edges strong ones; compare the figure of
    generated pictures with that of real ones (ShapesWorld's rendered scenes).
    """
    x = images.detach().float().cpu().mean(1, keepdim=True)  # (B, 1, H, W) grey
    lap = F.conv2d(x, _LAPLACIAN.view(1, 1, 3, 3))
    return float((lap ** 2).mean())


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise L2 distance between pictures of a batch (0 when every picture is the same)."""
    flat = images.detach().float().cpu().flatten(1)
    if len(flat) < 2:
        return 0.0
    dist = torch.cdist(flat, flat)
    n = len(flat)
    return float(dist.sum() / (n * (n - 1)))

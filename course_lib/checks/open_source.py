"""Self-checks for notebook 14 (VQGAN + CLIP, CLIP guidance and the leaderboard): the share of pictures
that fool CLIP, the CLIP-guided noise prediction, and the ranking of a leaderboard column, each against
the library."""
from __future__ import annotations

from typing import Callable

import torch

from .harness import compare


def my_fooled(fn: Callable[..., torch.Tensor]) -> bool:
    """Exercise 1: ``fn(scores, correct, threshold)`` -> (S,) share of pictures per recorded step that
    CLIP scores at least ``threshold`` while the oracle says wrong, against ``vqgan_clip.Trace.fooled``."""
    from ..vqgan_clip import Trace

    generator = torch.Generator().manual_seed(4)
    scores = 80 + 15 * torch.rand(5, 6, generator=generator)  # (S, B)
    correct = torch.rand(5, 6, generator=generator) < 0.3
    per_prompt = 85 + 5 * torch.rand(6, generator=generator)
    reference = lambda s, c, threshold: Trace(list(range(len(s))), s, c).fooled(threshold)
    cases = [("5 steps of 6 pictures, threshold 88", (scores, correct, 88.0)),
             ("the same, one threshold per prompt (shape (6,))", (scores, correct, per_prompt)),
             ("every picture right", (scores, torch.ones_like(correct), 80.0))]
    return compare("my_fooled", fn, reference, cases)


def my_guided_eps(fn: Callable[..., torch.Tensor]) -> bool:
    """Exercise 2: ``fn(eps, grad, alpha_bar_t, scale, max_grad)``, CLIP guidance's shifted noise
    prediction with the gradient's RMS capped, against ``clip_guidance.guided_eps``."""
    from ..clip_guidance import guided_eps

    generator = torch.Generator().manual_seed(6)
    eps = torch.randn(3, 2, 4, 4, generator=generator)
    grad = torch.randn(3, 2, 4, 4, generator=generator) * torch.tensor([0.1, 1.0, 20.0]).view(3, 1, 1, 1)
    cases = [(f"3 pictures with gradients of RMS about 0.1, 1 and 20, ᾱ_t = {a}, scale {s}, max_grad {m}",
              (eps, grad, torch.tensor(a), s, m)) for a, s, m in ((0.5, 0.3, 1.0), (0.01, 1.0, 1.0), (0.9, 2.0, 5.0))]
    return compare("my_guided_eps", fn, guided_eps, cases)


def my_ranking(fn: Callable[[dict, str], list]) -> bool:
    """Exercise 3: ``fn(record, figure)`` -> [(system key, value), ...] highest first, rows without the
    figure left out, ties in course order, against ``leaderboard.ranking``."""
    from ..leaderboard import ranking

    record = {"rows": {"imagen": {"caption_acc_seen_two": 0.7, "caption_acc_seen_one": 0.9},
                       "text_gan": {"caption_acc_seen_one": 0.9},
                       "glide": {"caption_acc_seen_two": 0.2, "caption_acc_seen_one": 0.8},
                       "bart": {"caption_acc_seen_two": 0.9, "caption_acc_seen_one": 1.0}}}
    cases = [(f"4 rows, {figure!r}", (record, figure)) for figure in ("caption_acc_seen_two", "caption_acc_seen_one")]
    return compare("my_ranking", fn, ranking, cases)

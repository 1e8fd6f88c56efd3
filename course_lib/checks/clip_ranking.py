"""Self-checks for notebook 08_clip_ranking: zero-shot classification, ranking by score and the
relevance scores from raw features."""
from __future__ import annotations

from typing import Callable

import torch

from .harness import compare


def _unit(*shape, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def zero_shot(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 08, exercise 1: ``fn(image_features (B, D), class_features (C, D))`` -> best class index (B,)."""
    cases = [(f"image_features ({b}, 8), class_features ({c}, 8)", (_unit(b, 8, seed=b), _unit(c, 8, seed=10 + c)))
             for b, c in ((6, 4), (5, 6), (1, 2))]
    return compare("zero_shot", fn, lambda images, classes: (images @ classes.T).argmax(-1), cases)


def rank_scores(fn: Callable[[torch.Tensor], tuple]) -> bool:
    """Notebook 08, exercise 2: ``fn(scores (N,))`` -> (indices best first, their scores), as ``clip.rank``."""
    def reference(scores):
        order = scores.argsort(descending=True)
        return order, scores[order]

    cases = [("scores [31.6, 12.0, 28.4]", (torch.tensor([31.6, 12.0, 28.4]),)),
             ("8 random scores", (torch.randn(8, generator=torch.Generator().manual_seed(3)) * 10,)),
             ("one score [5.0]", (torch.tensor([5.0]),))]
    return compare("rank_scores", lambda scores: fn(scores.clone()), reference, cases)


def my_relevance(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 08, exercise 3: the learner's ``fn(raw_image (B, D), raw_text (P, D))`` -> 100 × cosine (B, P),
    from raw features, as ``clip.relevance`` scores."""
    from .. import clip

    def reference(raw_image, raw_text):
        F = torch.nn.functional
        return clip.SCORE_SCALE * F.normalize(raw_image, dim=-1) @ F.normalize(raw_text, dim=-1).T

    generator = torch.Generator().manual_seed(4)
    cases = [(f"raw_image ({b}, 6), raw_text ({p}, 6)",
              (3 * torch.randn(b, 6, generator=generator), 0.5 * torch.randn(p, 6, generator=generator)))
             for b, p in ((4, 3), (2, 1), (1, 5))]
    return compare("my_relevance", fn, reference, cases, tolerance=1e-3)

"""Self-checks for notebook 08_clip_ranking: zero-shot classification, ranking by score, the
relevance scores from raw features, and text -> picture recall counted by the oracle."""
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


def recall_at_1(fn: Callable[..., float]) -> bool:
    """Notebook 08, exercise 4: ``fn(model, scenes, prompts)`` -> the share of prompts whose best-scoring
    picture among the rendered ``scenes`` shows what the prompt says (``oracle.matches``), not only
    the prompt's own scene."""
    from .. import captions, clip, oracle, shapes
    from ..train import seeded

    with seeded(0):
        model = clip.ShapesCLIP(clip.preset("tiny").config).eval()
    scenes = shapes.sample_scenes(12, seed=4, kind="one")
    red = [shapes.Scene((shapes.Obj("circle", "red", size, cell),)) for size, cell in (("big", 0), ("small", 4), ("big", 8))]

    @torch.no_grad()
    def reference(model, scenes, prompts):
        best = clip.relevance(model, shapes.render(scenes), prompts).argmax(0)  # (prompts,): each prompt's best picture
        return sum(oracle.matches(scenes[int(b)], captions.parse(p)) for b, p in zip(best, prompts)) / len(prompts)

    cases = [(f"a tiny random CLIP, 12 scenes, their captions{what}", (model, scenes, [captions.describe(s, leave_open=leave)
                                                                                   for s in scenes]))
             for what, leave in (("", ()), (" with size and position left open", ("size", "position")))]
    cases.append(("a tiny random CLIP, 15 scenes (3 red circles), prompts 'a red circle' and 'a circle'",
                  (model, scenes + red, ["a red circle", "a circle"])))
    return compare("recall_at_1", fn, reference, cases, tolerance=1e-6)

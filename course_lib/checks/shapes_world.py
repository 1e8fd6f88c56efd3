"""Self-checks for notebook 00_shapes_world: counting a picture's colours, drawing a scene by hand and
how much noise the oracle reads through."""
from __future__ import annotations

from typing import Callable

import torch

from .. import captions, oracle, shapes
from .harness import Hint, attempt, call, compare


def _count_colours_reference(picture: torch.Tensor) -> int:
    cover = oracle.colour_coverage(picture)[0]  # (6 colours, H, W)
    return int((cover.flatten(1).sum(1) >= oracle.MIN_MASS).sum())


def count_colours(fn: Callable[[torch.Tensor], int]) -> bool:
    """Notebook 00, exercise 1: ``fn(picture (3, 32, 32))`` counts palette colours covering ≥ 10 pixels."""
    scenes = shapes.sample_scenes(4, seed=3, kind="one") + shapes.sample_scenes(4, seed=3, kind="two")
    cases = [(f"the picture of {captions.describe(s)!r}", (p,)) for s, p in zip(scenes, shapes.render(scenes))]
    cases.append(("an all-black picture", (torch.zeros(3, 32, 32),)))
    return compare("count_colours", lambda picture: fn(picture.clone()), _count_colours_reference, cases)


def scene_by_hand(fn: Callable[[], shapes.Scene],
                  caption: str = "a small green diamond to the right of a big red square") -> bool:
    """Notebook 00, exercise 2: ``fn()`` returns a ``shapes.Scene`` whose picture shows ``caption``."""

    def run():
        scene = call(fn, call="your function")
        if not isinstance(scene, shapes.Scene):
            raise Hint(f"it returned {scene!r}; expected a shapes.Scene(...) made of shapes.Obj(...)")
        reading = oracle.read(shapes.render([scene]))[0]
        if not oracle.matches(reading.scene, captions.parse(caption)):
            shown = captions.describe(scene)
            raise Hint(f"your scene shows {shown!r}; the caption asks for {caption!r}")
        return f"the oracle reads {captions.describe(scene)!r}"

    return attempt("scene_by_hand", run)


def read_rate(fn: Callable[..., float]) -> bool:
    """Notebook 00, exercise 3: ``fn(scenes, sigma, generator)`` -> the share of ``scenes`` the oracle
    reads back as themselves (``oracle.same_scene``) from their pictures with Gaussian noise of standard
    deviation ``sigma`` added (``torch.randn`` of the pictures' shape, drawn with ``generator``), clamped
    to [0, 1]."""
    scenes = shapes.sample_scenes(6, seed=4, kind="mixed")

    def reference(scenes, sigma, seed):
        clean = shapes.render(scenes)
        noisy = (clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)
        return sum(oracle.same_scene(r.scene, s) for r, s in zip(oracle.read(noisy), scenes)) / len(scenes)

    cases = [(f"6 scenes, sigma={sigma}, generator seeded {seed}", (scenes, sigma, seed))
             for sigma, seed in ((0.0, 0), (0.1, 1), (0.1, 5), (0.5, 2))]
    return compare("read_rate", lambda s, sigma, seed: fn(list(s), sigma, torch.Generator().manual_seed(seed)),
                   reference, cases, tolerance=1e-9)

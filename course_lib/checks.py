"""Self-checks for the exercises: run the learner's code against the reference on small cases.

A check answers in one line, never with a stack trace, and returns True or False (it never raises):

- ``✓ count_colours: right on 9 cases`` when the code agrees with the reference;
- ``✗ count_colours: not done yet: ...`` while the code still says ``raise NotImplementedError``;
- ``✗ count_colours: for the picture of 'a red circle' it returned 2; expected 1`` when it is wrong,
  naming the input, what came back and what was expected;
- ``✗ count_colours: your code raised ValueError: ...`` when it fails.

A notebook's check cell is ``assert checks.count_colours(count_colours), "see the hint above"``:
the hint is what the learner reads, and the failed assert is what nbgrader grades.

``pipeline_accuracy`` and ``pipeline_part`` measure a Dall·E Mini pipeline with a part of the
learner's own swapped in (notebook 09): the oracle's caption accuracy of the best-ranked pictures.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from . import captions, oracle, shapes

NOT_DONE = "not done yet: write your code where it says raise NotImplementedError"


class _Hint(Exception):
    """What to tell the learner; raised inside a check, caught by ``_attempt``."""


def _call(fn: Callable, *args, call: str):
    """Call the learner's ``fn``; any failure becomes a hint naming the call."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise _Hint(NOT_DONE) from None
    except Exception as error:  # the learner's code may fail in any way: say how, in one line
        raise _Hint(f"{call} raised {type(error).__name__}: {error}") from None


def _attempt(name: str, run: Callable[[], str]) -> bool:
    """Run one check: ``run`` returns what to say on success, or raises ``_Hint``."""
    try:
        success = run()
    except _Hint as hint:
        print(f"✗ {name}: {hint}")
        return False
    except Exception as error:  # a check must never raise, even on input it did not foresee
        print(f"✗ {name}: the check could not run ({type(error).__name__}: {error}); "
              "is the argument the function the exercise asks for?")
        return False
    print(f"✓ {name}: {success}")
    return True


# --- notebook 00: ShapesWorld ------------------------------------------------------------------

def _count_colours_reference(picture: torch.Tensor) -> int:
    cover = oracle.colour_coverage(picture)[0]  # (6 colours, H, W)
    return int((cover.flatten(1).sum(1) >= oracle.MIN_MASS).sum())


def count_colours(fn: Callable[[torch.Tensor], int]) -> bool:
    """Notebook 00, exercise 1: ``fn(picture (3, 32, 32))`` counts palette colours covering ≥ 10 pixels."""
    scenes = shapes.sample_scenes(4, seed=3, kind="one") + shapes.sample_scenes(4, seed=3, kind="two")
    cases = [(f"the picture of {captions.describe(s)!r}", p) for s, p in zip(scenes, shapes.render(scenes))]
    cases.append(("an all-black picture", torch.zeros(3, 32, 32)))

    def run():
        for what, picture in cases:
            got, expected = _call(fn, picture.clone(), call=f"count_colours({what})"), \
                _count_colours_reference(picture)
            if got != expected:
                raise _Hint(f"for {what} it returned {got!r}; expected {expected}")
        return f"right on {len(cases)} pictures"

    return _attempt("count_colours", run)


def scene_by_hand(fn: Callable[[], shapes.Scene],
                  caption: str = "a small green diamond to the right of a big red square") -> bool:
    """Notebook 00, exercise 2: ``fn()`` returns a ``shapes.Scene`` whose picture shows ``caption``."""

    def run():
        scene = _call(fn, call="your function")
        if not isinstance(scene, shapes.Scene):
            raise _Hint(f"it returned {scene!r}; expected a shapes.Scene(...) made of shapes.Obj(...)")
        reading = oracle.read(shapes.render([scene]))[0]
        if not oracle.matches(reading.scene, captions.parse(caption)):
            shown = captions.describe(scene)
            raise _Hint(f"your scene shows {shown!r}; the caption asks for {caption!r}")
        return f"the oracle reads {captions.describe(scene)!r}"

    return _attempt("scene_by_hand", run)


# --- notebook 09: swap in your own part ---------------------------------------------------------

def pipeline_accuracy(pipeline, prompts: Sequence[str], n: int = 8, seed: int = 0) -> dict[str, float]:
    """Oracle caption accuracy of a pipeline over ``prompts``: of the best-ranked picture of each
    prompt (``best``), and of all ``n`` candidates (``all``). The gap is what the ranker adds."""
    best, every = [], []
    for i, prompt in enumerate(prompts):
        drawing = pipeline.draw(prompt, n, seed=seed + i)
        right = oracle.caption_correct(drawing.images, [prompt] * n)
        best.append(right[0])
        every.extend(right)
    return {"best": sum(best) / len(best), "all": sum(every) / len(every)}


def _probe_parts(pipeline) -> None:
    """Call the swappable parts on tiny inputs, so a wrong shape is named before the full draw."""
    codes = torch.zeros(2, 8, 8, dtype=torch.long)
    device = next(pipeline.image_tokenizer.parameters()).device
    pictures = _call(pipeline.image_tokenizer.decode, codes.to(device), call="image_tokenizer.decode(codes (2, 8, 8))")
    if not isinstance(pictures, torch.Tensor) or tuple(pictures.shape) != (2, 3, 32, 32):
        shape = tuple(pictures.shape) if isinstance(pictures, torch.Tensor) else type(pictures).__name__
        raise _Hint(f"image_tokenizer.decode(codes (2, 8, 8)) gave {shape}; expected pictures (2, 3, 32, 32)")
    scores = _call(pipeline.ranker, pictures.float(), "a red circle", call="ranker(pictures (2, 3, 32, 32), prompt)")
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (2,):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise _Hint(f"ranker(pictures (2, 3, 32, 32), prompt) gave {shape}; expected one score per picture (2,)")


def pipeline_part(pipeline, prompts: Sequence[str], n: int = 8, seed: int = 0, at_least: float = 0.0) -> bool:
    """Notebook 09: run a pipeline with a part of your own swapped in and report its caption accuracy;
    passes when the best-ranked pictures are right at least ``at_least`` of the time."""

    def run():
        _probe_parts(pipeline)
        score = _call(lambda: pipeline_accuracy(pipeline, prompts, n, seed), call="pipeline.draw")
        verdict = (f"caption accuracy {score['best']:.0%} for the best-ranked pictures, "
                   f"{score['all']:.0%} over all {n} candidates of {len(prompts)} prompts")
        if score["best"] < at_least:
            raise _Hint(f"{verdict}; the exercise asks for at least {at_least:.0%}")
        return verdict

    return _attempt("pipeline_part", run)

"""The machinery every self-check shares: calling the learner's code, turning its failures into
one-line hints, comparing what came back with the reference and printing the verdict.

A check builds its cases and hands them to ``compare``; a check that needs its own loop runs it
inside ``attempt`` and raises ``Hint`` with what to tell the learner.
"""
from __future__ import annotations

from typing import Callable

import torch

NOT_DONE = "not done yet: write your code where it says raise NotImplementedError"


class Hint(Exception):
    """What to tell the learner; raised inside a check, caught by ``attempt``."""


def call(fn: Callable, *args, call: str):
    """Call the learner's ``fn``; any failure becomes a hint naming the call."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise Hint(NOT_DONE) from None
    except Exception as error:  # the learner's code may fail in any way: say how, in one line
        raise Hint(f"{call} raised {type(error).__name__}: {error}") from None


def attempt(name: str, run: Callable[[], str]) -> bool:
    """Run one check: ``run`` returns what to say on success, or raises ``Hint``."""
    try:
        success = run()
    except Hint as hint:
        print(f"✗ {name}: {hint}")
        return False
    except Exception as error:  # a check must never raise, even on input it did not foresee
        print(f"✗ {name}: the check could not run ({type(error).__name__}: {error}); "
              "is the argument the function the exercise asks for?")
        return False
    print(f"✓ {name}: {success}")
    return True


def same(got, expected, tolerance: float) -> bool:
    if isinstance(expected, tuple):
        return isinstance(got, (tuple, list)) and len(got) == len(expected) and \
            all(same(g, e, tolerance) for g, e in zip(got, expected))
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == expected.shape and \
            torch.allclose(got.detach().float(), expected.float(), atol=tolerance)
    if isinstance(expected, float):
        return isinstance(got, (int, float, torch.Tensor)) and abs(float(got) - expected) <= tolerance
    return got == expected


def show(value) -> str:
    if isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value):
        return "(" + ", ".join(show(v) for v in value) + ")"
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{value.item():.4g}"
        if value.numel() <= 8:
            return f"{[round(v, 4) if isinstance(v, float) else v for v in value.flatten().tolist()]} (shape {tuple(value.shape)})"
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def gap(got, expected) -> str:
    """Where two same-shaped tensors (or tuples of them) differ, when their values are too many to show."""
    pairs = list(zip(got, expected)) if isinstance(expected, tuple) and isinstance(got, (tuple, list)) else [(got, expected)]
    for k, (g, e) in enumerate(pairs):
        if isinstance(g, torch.Tensor) and isinstance(e, torch.Tensor) and g.shape == e.shape and e.numel() > 8:
            diff = (g.detach().float() - e.float()).abs()
            if diff.max() > 0 or g.dtype != e.dtype:
                which = f" (item {k + 1} of the tuple)" if len(pairs) > 1 else ""
                return (f"; the shapes agree{which} but {int((diff > 1e-5).sum())} of {e.numel()} values differ, "
                        f"by up to {diff.max().item():.4g}")
    return ""


def compare(name: str, fn: Callable, reference: Callable, cases: list[tuple[str, tuple]],
            tolerance: float = 1e-5) -> bool:
    """Check ``fn(*args) == reference(*args)`` on each ``(what, args)`` case, naming the first miss."""

    def run():
        for what, args in cases:
            got = call(fn, *args, call=f"{name}({what})")
            expected = reference(*args)
            if not same(got, expected, tolerance):
                raise Hint(f"for {what} it returned {show(got)}; expected {show(expected)}{gap(got, expected)}")
        return f"right on {len(cases)} cases"

    return attempt(name, run)


def logits_of(*values) -> torch.Tensor:
    """A float32 tensor of the given logits, for the cases of the loss checks."""
    return torch.tensor(values, dtype=torch.float32)

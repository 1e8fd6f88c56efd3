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


def _same(got, expected, tolerance: float) -> bool:
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == expected.shape and \
            torch.allclose(got.detach().float(), expected.float(), atol=tolerance)
    if isinstance(expected, float):
        return isinstance(got, (int, float, torch.Tensor)) and abs(float(got) - expected) <= tolerance
    return got == expected


def _show(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.item():.4g}" if value.numel() == 1 else f"a tensor of shape {tuple(value.shape)}"
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def _compare(name: str, fn: Callable, reference: Callable, cases: list[tuple[str, tuple]],
             tolerance: float = 1e-5) -> bool:
    """Check ``fn(*args) == reference(*args)`` on each ``(what, args)`` case, naming the first miss."""

    def run():
        for what, args in cases:
            got = _call(fn, *args, call=f"{name}({what})")
            expected = reference(*args)
            if not _same(got, expected, tolerance):
                raise _Hint(f"for {what} it returned {_show(got)}; expected {_show(expected)}")
        return f"right on {len(cases)} cases"

    return _attempt(name, run)


def _logits(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


# --- notebook 00: ShapesWorld ------------------------------------------------------------------

def _count_colours_reference(picture: torch.Tensor) -> int:
    cover = oracle.colour_coverage(picture)[0]  # (6 colours, H, W)
    return int((cover.flatten(1).sum(1) >= oracle.MIN_MASS).sum())


def count_colours(fn: Callable[[torch.Tensor], int]) -> bool:
    """Notebook 00, exercise 1: ``fn(picture (3, 32, 32))`` counts palette colours covering ≥ 10 pixels."""
    scenes = shapes.sample_scenes(4, seed=3, kind="one") + shapes.sample_scenes(4, seed=3, kind="two")
    cases = [(f"the picture of {captions.describe(s)!r}", (p,)) for s, p in zip(scenes, shapes.render(scenes))]
    cases.append(("an all-black picture", (torch.zeros(3, 32, 32),)))
    return _compare("count_colours", lambda picture: fn(picture.clone()), _count_colours_reference, cases)


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


# --- notebooks 01-06: losses and measures ------------------------------------------------------

def saturating_generator_loss(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 01, exercise 1: ``fn(fake_logits)`` = mean of log(1 - D(G(z))), D = sigmoid(logits)."""
    import torch.nn.functional as F

    cases = [(f"fake_logits {t.tolist()}", (t,)) for t in (_logits(0.0), _logits(-6.0, 0.0, 3.0), _logits(2.0, -1.0))]
    return _compare("saturating_generator_loss", fn, lambda logits: F.logsigmoid(-logits).mean(), cases)


def colour_shape_size_coverage(fn: Callable[[torch.Tensor], float]) -> bool:
    """Notebook 01, exercise 2: share of the training split's (colour, shape, size) triples shown."""
    universe = sorted({(o.color, o.shape, o.size) for s in shapes.all_one_object_scenes("train") for o in s.objects})

    def reference(images):
        return oracle.coverage([r.scene for r in oracle.read(images)], lambda o: (o.color, o.shape, o.size), universe)

    few, many = shapes.sample_scenes(5, seed=4, kind="one"), shapes.all_one_object_scenes("train")
    cases = [("5 one-object pictures", (shapes.render(few),)), ("every training picture", (shapes.render(many),)),
             ("4 all-black pictures", (torch.zeros(4, 3, 32, 32),))]
    return _compare("colour_shape_size_coverage", fn, reference, cases, tolerance=1e-9)


def plain_conditional_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 02, exercise 1: the conditional D's loss without wrong pairs, -log D(real) - log(1 - D(fake))."""
    from . import gan

    cases = [(f"s_r {r.tolist()}, s_f {f.tolist()}", (r, f))
             for r, f in ((_logits(0.0), _logits(0.0)), (_logits(2.0, -1.0), _logits(-3.0, 0.5)))]
    return _compare("plain_conditional_loss", fn, gan.discriminator_loss, cases)


def attribute_accuracy(fn: Callable[[torch.Tensor, Sequence[str], str], float]) -> bool:
    """Notebook 02, exercise 2: share of pictures whose one object has the caption's ``attribute``."""
    scenes = shapes.sample_scenes(12, seed=5, kind="one")
    pictures, prompts = shapes.render(scenes), [captions.describe(s) for s in scenes]
    shifted = prompts[1:] + prompts[:1]

    def reference(images, texts, attribute):
        return sum(r.scene is not None and getattr(r.scene.objects[0], attribute) ==
                   getattr(captions.parse(p).objects[0], attribute) for r, p in zip(oracle.read(images), texts)) / len(texts)

    cases = [(f"12 pictures, {which} captions, attribute {a!r}", (pictures, texts, a))
             for which, texts in (("their own", prompts), ("shifted", shifted)) for a in ("shape", "color", "size", "cell")]
    cases.append(("12 all-black pictures, attribute 'shape'", (torch.zeros(12, 3, 32, 32), prompts, "shape")))
    return _compare("attribute_accuracy", fn, reference, cases, tolerance=1e-9)


def perplexity(fn: Callable[[torch.Tensor, int], float]) -> bool:
    """Notebook 05, exercise 1: exp of the entropy of the code frequencies in ``ids``."""
    from . import vq

    generator = torch.Generator().manual_seed(0)
    cases = [("ids all 3, k=8", (torch.full((2, 4, 4), 3), 8)), ("ids 0..15 once each, k=16", (torch.arange(16), 16)),
             ("random ids in 0..9, k=256", (torch.randint(0, 10, (4, 8, 8), generator=generator), 256))]
    return _compare("perplexity", fn, vq.perplexity, cases, tolerance=1e-3)


def hinge_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 06, exercise 1: the discriminator's hinge loss, as ``vqgan.hinge_d_loss``."""
    from . import vqgan

    generator = torch.Generator().manual_seed(0)
    patches = torch.randn(2, 2, 1, 8, 8, generator=generator)
    cases = [("real 0, fake 0", (_logits(0.0), _logits(0.0))), ("real 2, fake -2 (no loss)", (_logits(2.0), _logits(-2.0))),
             ("random patch logits (2, 1, 8, 8)", (patches[0], patches[1]))]
    return _compare("hinge_loss", fn, vqgan.hinge_d_loss, cases)


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

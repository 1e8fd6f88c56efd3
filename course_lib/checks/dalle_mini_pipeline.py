"""Self-checks for notebook 09_dalle_mini_pipeline: a ranker of one's own (``ranker``), the
pipeline drawn by hand (``draw_by_hand``) and the guidance scale measured (``guidance_study``).

``pipeline_accuracy`` and ``pipeline_part`` measure a Dall·E Mini pipeline with a part of the
learner's own swapped in: the oracle's caption accuracy of the best-ranked pictures.
``tiny_pipeline`` builds one from tiny random-weight parts, for checking plumbing.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .. import captions, oracle, shapes
from .harness import Hint, attempt, call, compare


def _shape_of(value) -> tuple | str:
    """A returned tensor's shape, or the type of what came back instead, for a hint."""
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


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
    pictures = call(pipeline.image_tokenizer.decode, codes.to(device), call="image_tokenizer.decode(codes (2, 8, 8))")
    if not isinstance(pictures, torch.Tensor) or tuple(pictures.shape) != (2, 3, 32, 32):
        raise Hint(f"image_tokenizer.decode(codes (2, 8, 8)) gave {_shape_of(pictures)}; expected pictures (2, 3, 32, 32)")
    scores = call(pipeline.ranker, pictures.float(), "a red circle", call="ranker(pictures (2, 3, 32, 32), prompt)")
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (2,):
        raise Hint(f"ranker(pictures (2, 3, 32, 32), prompt) gave {_shape_of(scores)}; expected one score per picture (2,)")


def pipeline_part(pipeline, prompts: Sequence[str], n: int = 8, seed: int = 0, at_least: float = 0.0) -> bool:
    """Notebook 09: run a pipeline with a part of your own swapped in and report its caption accuracy;
    passes when the best-ranked pictures are right at least ``at_least`` of the time."""

    def run():
        _probe_parts(pipeline)
        score = call(lambda: pipeline_accuracy(pipeline, prompts, n, seed), call="pipeline.draw")
        verdict = (f"caption accuracy {score['best']:.0%} for the best-ranked pictures, "
                   f"{score['all']:.0%} over all {n} candidates of {len(prompts)} prompts")
        if score["best"] < at_least:
            raise Hint(f"{verdict}; the exercise asks for at least {at_least:.0%}")
        return verdict

    return attempt("pipeline_part", run)


def tiny_pipeline():
    """A Dall·E Mini pipeline from tiny random-weight parts (seeded): builds and draws in a blink, for
    checking plumbing, not pictures."""
    import dataclasses

    from .. import bart, clip, dalle_mini
    from ..vqvae import VQVAE, VQVAEConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        translator = bart.CaptionToImageBart(dataclasses.replace(bart.preset("tiny").config, image_tokens=64)).eval()
        image_tokenizer = VQVAE(VQVAEConfig(channels=16, codebook_size=16)).eval()
        ranker = clip.ShapesCLIP(clip.preset("tiny").config).eval()
    return dalle_mini.Pipeline(translator, image_tokenizer, dalle_mini.clip_ranker(ranker))


def ranker(fn: Callable[[torch.Tensor, str], torch.Tensor]) -> bool:
    """Notebook 09, exercise 1: ``fn(pictures (N, 3, 32, 32), prompt)`` -> one score per picture (N,),
    with the picture that shows the prompt first among candidates that differ from it in colour."""
    def obj(shape, color, size="big", cell=4):
        return shapes.Obj(shape, color, size, cell)

    one = lambda *objects: shapes.Scene(tuple(objects))  # noqa: E731
    cases = [("a big red circle in the middle", 1, [one(obj("circle", "blue")), one(obj("circle", "red")),
                                                     one(obj("square", "green"))]),
             ("a small yellow square", 0, [one(obj("square", "yellow", "small", 0)), one(obj("square", "cyan", "small", 0)),
                                            one(obj("square", "purple", "small", 0)), one(obj("circle", "blue", "small", 0))]),
             ("a green triangle above a blue circle", 2,
              [one(obj("triangle", "red", "small", 1), obj("circle", "blue", "small", 7)),
               one(obj("triangle", "green", "small", 1), obj("circle", "yellow", "small", 7)),
               one(obj("triangle", "green", "small", 1), obj("circle", "blue", "small", 7))])]

    def run():
        for prompt, right, scenes in cases:
            pictures = shapes.render(scenes)
            scores = call(fn, pictures.clone(), prompt, call=f"your ranker on {len(scenes)} pictures for {prompt!r}")
            if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (len(scenes),):
                raise Hint(f"for {len(scenes)} pictures and {prompt!r} it returned {_shape_of(scores)}; "
                           f"expected one score per picture ({len(scenes)},)")
            best = int(scores.float().argmax())
            if best != right or (scores.float() == scores.float()[right]).sum() > 1:
                raise Hint(f"for {prompt!r} it scored the pictures {[round(float(v), 3) for v in scores]}: the best is "
                           f"{captions.describe(scenes[best])!r}; expected {captions.describe(scenes[right])!r} "
                           "strictly first")
        return f"the right picture first in {len(cases)} cases"

    return attempt("ranker", run)


class _GreyPatches(torch.nn.Module):
    """A stand-in image tokenizer: code c of 16 becomes a 4×4 patch of grey c / 15."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        grey = (codes.float() / 15).repeat_interleave(4, 1).repeat_interleave(4, 2)  # (N, 32, 32)
        return grey[:, None].expand(-1, 3, -1, -1).clone()


def draw_by_hand(fn: Callable[..., tuple]) -> bool:
    """Notebook 09, exercise 2: ``fn(pipeline, prompt, n, seed)`` -> (pictures best first, scores best first),
    the same as ``pipeline.draw(prompt, n, seed=seed)``: BART samples, the tokenizer decodes, the ranker sorts."""
    import dataclasses

    from .. import bart, dalle_mini

    # a tiny random translator; tiny random tokenizer and CLIP would draw black pictures that score alike,
    # so a tokenizer that shows each code as the grey of its patch and a ranker by contrast stand in
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        translator = bart.CaptionToImageBart(dataclasses.replace(bart.preset("tiny").config, image_tokens=64)).eval()
    pipeline = dalle_mini.Pipeline(translator, _GreyPatches(), lambda pictures, prompt: pictures.flatten(1).std(1))

    def reference(pipeline, prompt, n, seed):
        drawing = pipeline.draw(prompt, n, seed=seed)
        return drawing.images, drawing.scores

    cases = [(f"a tiny random pipeline, {prompt!r}, n={n}, seed={seed}{what}", (p, prompt, n, seed))
             for p, what, prompt, n, seed in (
                 (pipeline, "", "a red circle", 4, 0),
                 (pipeline, "", "a small blue square above a green diamond", 3, 5),
                 (dataclasses.replace(pipeline, temperature=0.7, top_k=5, guidance_scale=3.0),
                  " (temperature 0.7, top_k 5, guidance 3)", "a yellow triangle", 2, 1))]
    return compare("draw_by_hand", fn, reference, cases, tolerance=1e-5)


def guidance_study(fn: Callable[..., dict]) -> bool:
    """Notebook 09, exercise 3: ``fn(pipeline, prompts, scales, n)`` -> for each guidance scale, the
    ``pipeline_accuracy`` of the pipeline sampling at that scale (``dataclasses.replace``), its other
    parts and settings unchanged."""
    import dataclasses

    from .. import bart, dalle_mini
    from .bart_translation import _CodesToScenes

    # a tiny random translator; a tokenizer that draws the object its first codes name, so the oracle
    # finds some candidates right; a ranker that prefers bright pictures
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        translator = bart.CaptionToImageBart(dataclasses.replace(bart.preset("tiny").config, image_tokens=64)).eval()
    pipeline = dalle_mini.Pipeline(translator, _CodesToScenes(), lambda pictures, prompt: pictures.flatten(1).mean(1))

    def reference(pipeline, prompts, scales, n):
        return {s: pipeline_accuracy(dataclasses.replace(pipeline, guidance_scale=s), prompts, n) for s in scales}

    cases = [(f"a tiny random pipeline{what}, prompts {prompts}, scales {scales}, n={n}", (p, prompts, scales, n))
             for p, what, prompts, scales, n in (
                 (pipeline, "", ["a circle", "a big square"], (1.0, 3.0), 4),
                 (dataclasses.replace(pipeline, temperature=0.7), " at temperature 0.7", ["a red circle", "a triangle", "a box"],
                  (0.0, 1.0, 5.0), 3))]
    return compare("guidance_study", fn, reference, cases)

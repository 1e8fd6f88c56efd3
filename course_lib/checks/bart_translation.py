"""Self-checks for notebook 07_bart_translation: top-k filtering, the next code's probabilities
(guidance, temperature, top-k), the decoder's inputs, and what the temperature does to the oracle's
figures."""
from __future__ import annotations

from typing import Callable

import torch

from .harness import compare


def my_top_k(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """Notebook 07, exercise 1: the learner's ``fn(logits, k)`` keeps the k largest logits of each row,
    the rest -inf, as ``bart.filter_top_k``."""
    from .. import bart

    generator = torch.Generator().manual_seed(0)
    logits, batched = torch.randn(4, 16, generator=generator), torch.randn(2, 3, 10, generator=generator)
    cases = [(f"logits {tuple(x.shape)}, k={k}", (x, k)) for x, k in ((logits, 1), (logits, 5), (logits, 16), (batched, 3))]
    cases.append(("logits [[3.0, 1.0, 2.0, 0.0]], k=2", (torch.tensor([[3.0, 1.0, 2.0, 0.0]]), 2)))
    return compare("my_top_k", lambda x, k: fn(x.clone(), k), bart.filter_top_k, cases)


def next_code_probs(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 07, exercise 2: ``fn(cond, uncond, scale, temperature, k)``: guidance mix, / temperature,
    top-k, softmax."""
    from .. import bart

    def reference(cond, uncond, scale, temperature, k):
        return bart.filter_top_k(bart.guide(cond, uncond, scale) / temperature, k).softmax(-1)

    generator = torch.Generator().manual_seed(1)
    cond, uncond = torch.randn(2, 3, 16, generator=generator).unbind(0)
    cases = [(f"cond, uncond (3, 16), scale={s}, temperature={t}, k={k}", (cond, uncond, s, t, k))
             for s, t, k in ((1.0, 1.0, 16), (3.0, 0.7, 10), (0.0, 2.0, 4), (5.0, 0.5, 1))]
    return compare("next_code_probs", fn, reference, cases, tolerance=1e-6)


def decoder_inputs(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 07, exercise 3: ``fn(model, codes)`` = <image>, then the codes shifted right, as vocabulary ids."""
    import types

    from .. import bart

    generator = torch.Generator().manual_seed(2)
    cases = [(f"codes {tuple(codes.shape)} with image_offset={offset}, image_bos={bos}",
              (types.SimpleNamespace(image_offset=offset, image_bos=bos), codes))
             for codes, offset, bos in ((torch.randint(0, 16, (3, 6), generator=generator), 40, 56),
                                        (torch.tensor([[5, 0, 2, 7]]), 10, 18))]
    return compare("decoder_inputs", lambda model, codes: fn(model, codes.clone()),
                   bart.CaptionToImageBart.decoder_inputs, cases)


class _CodesToScenes(torch.nn.Module):
    """A stand-in image tokenizer: each 8×8 grid becomes the picture of one object whose shape, colour,
    size and cell are read off its first four codes, so sampled codes give scenes the oracle can judge."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        from .. import shapes

        first = codes.flatten(1)[:, :4].tolist()  # (N, 4)
        return shapes.render([shapes.Scene((shapes.Obj(shapes.SHAPES[a % 4], shapes.COLOR_NAMES[b % 6],
                                                       shapes.SIZES[c % 2], d % 9),)) for a, b, c, d in first])


def temperature_study(fn: Callable[..., dict]) -> bool:
    """Notebook 07, exercise 4: ``fn(model, image_tokenizer, prompt, n, temperatures)`` -> for each
    temperature t, (oracle caption accuracy, ``oracle.variety``) of ``n`` samples of ``prompt`` drawn
    by ``bart.sample`` at temperature t with a generator seeded 0, decoded as 8×8 grids."""
    import dataclasses

    from .. import bart, oracle

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        translator = bart.CaptionToImageBart(dataclasses.replace(bart.preset("tiny").config, image_tokens=64)).eval()

    @torch.no_grad()
    def reference(model, image_tokenizer, prompt, n, temperatures):
        figures = {}
        for t in temperatures:
            codes = bart.sample(model, [prompt] * n, temperature=t, generator=torch.Generator().manual_seed(0))
            pictures = image_tokenizer.decode(codes.view(n, 8, 8))
            figures[t] = (oracle.caption_accuracy(pictures, [prompt] * n), oracle.variety(pictures, prompt))
        return figures

    cases = [(f"a tiny random translator, a tokenizer that draws one object from the first codes, {prompt!r}, "
              f"n={n}, temperatures {temperatures}", (translator, _CodesToScenes(), prompt, n, temperatures))
             for prompt, n, temperatures in (("a circle", 8, (0.05, 1.0, 3.0)), ("a big square", 6, (0.5, 2.0)))]

    return compare("temperature_study", fn, reference, cases)

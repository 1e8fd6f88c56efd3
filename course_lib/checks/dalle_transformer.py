"""Self-checks for notebook 10_dalle_transformer: DALL·E's one stream, a sparse attention mask, and
keeping CLIP's top k of N candidates."""
from __future__ import annotations

from typing import Callable

import torch

from .harness import compare


def one_stream(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 10, exercise 1: ``fn(model, prompts, codes)`` is the stream the one-stream transformer
    reads in training, as ``dalle.CaptionToImageGPT.stream``: caption ids padded to the fixed length,
    ``<image>``, then the codes but the last, as vocabulary ids."""
    from .. import dalle

    model = dalle.CaptionToImageGPT(dalle.preset("tiny").config)
    generator = torch.Generator().manual_seed(3)
    cases = []
    for prompts in (["a red circle"], ["a big blue box above a green disc", "a yellow diamond on the left"]):
        codes = torch.randint(0, model.config.codebook_size, (len(prompts), model.config.image_tokens),
                              generator=generator)
        cases.append((f"prompts {prompts} and codes {tuple(codes.shape)}", (model, prompts, codes)))
    return compare("one_stream", lambda m, prompts, codes: fn(m, list(prompts), codes.clone()),
                   lambda m, prompts, codes: m.stream(prompts, codes), cases)


def column_mask(fn: Callable[[int, int], torch.Tensor]) -> bool:
    """Notebook 10, exercise 2: ``fn(text_tokens, side)`` is DALL·E's column attention mask, as
    ``dalle.attention_mask("column", text_tokens, side)``: (S, S) bool, causal, every image token
    reads the whole caption and the earlier image tokens of its own column."""
    from .. import dalle

    cases = [(f"text_tokens={t}, side={side}", (t, side)) for t, side in ((1, 2), (3, 3), (4, 4), (0, 3))]
    return compare("column_mask", lambda t, side: fn(t, side).bool(),
                   lambda t, side: dalle.attention_mask("column", t, side), cases)


def keep_top(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """Notebook 10, exercise 3: ``fn(pictures, scores, k)`` keeps the ``k`` pictures the ranker scores
    highest, best first, as DALL·E keeps CLIP's top 32 of 512."""
    generator = torch.Generator().manual_seed(4)
    cases = []
    for n, k in ((8, 1), (8, 3), (16, 16), (40, 32)):
        pictures = torch.rand(n, 3, 4, 4, generator=generator)
        scores = torch.randn(n, generator=generator) * 10
        cases.append((f"{n} pictures with scores {tuple(scores.shape)}, k={k}", (pictures, scores, k)))
    return compare("keep_top", lambda pictures, scores, k: fn(pictures.clone(), scores.clone(), k),
                   lambda pictures, scores, k: pictures[scores.topk(k).indices], cases)

"""DALL·E's recipe, "generate 512, keep CLIP's top 32", measured for both translators.

Ramesh et al. (2021) sampled 512 pictures per caption and kept the 32 that CLIP scored highest. How
much does that buy, and where does it stop buying? For each prompt the pipeline (the shipped VQ-GAN and
CLIP, with the shipped ``bart`` or ``dalle`` translator, sampling as ``bart.DEFAULT_SAMPLING``) draws
512 candidates once; the oracle judges every one. ``dalle_mini.rerank_accuracy`` then reads off, for
N = 1, 2, 4, ..., 512, the accuracy of CLIP's first choice among N (``first_of_N``) and the share right
among CLIP's top 32 of N (``top32_of_N``, N >= 32), averaged over the 512 // N disjoint groups of N.
Prompts: the first ``--prompts`` canonical prompts of each split and kind (``eval_sets.prompts``);
figures per split (``_seen``, ``_heldout``: one- and two-object prompts together).

Each run measures the translators it names and keeps the others' figures in
``course_lib/data/ablation_rerank_512.json``, which notebook 10 plots.

    python -m benchmarks.rerank_512 --translator bart dalle   # ~1 h on 2 shared CPU cores
    python -m benchmarks.rerank_512 --prompts 1 --out /tmp    # a quick try
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from course_lib import ablations, dalle_mini, eval_sets
from course_lib.paths import DATA_DIR

NAME = "rerank_512"
CANDIDATES = 512  # DALL·E's
KEEP = 32  # DALL·E's
NS = tuple(2 ** i for i in range(10))  # 1 .. 512


def judge(pipeline: dalle_mini.Pipeline, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and oracle verdicts (P, CANDIDATES) in sampling order; prompt i is drawn with seed i."""
    judged = [dalle_mini.judged(pipeline.draw(prompt, CANDIDATES, seed=i)) for i, prompt in enumerate(prompts)]
    return torch.stack([s for s, _ in judged]), torch.stack([r for _, r in judged])


def curve(scores: torch.Tensor, right: torch.Tensor) -> dict[str, float]:
    """``first_of_N`` for every N of ``NS`` and ``top32_of_N`` for N >= 32."""
    figures = {f"first_of_{n}": dalle_mini.rerank_accuracy(scores, right, n) for n in NS}
    figures |= {f"top{KEEP}_of_{n}": dalle_mini.rerank_accuracy(scores, right, n, KEEP) for n in NS if n >= KEEP}
    return figures


def measure(translator: str, n_prompts: int) -> dict[str, float]:
    pipeline = dalle_mini.load_shipped_pipeline("cpu", translator=translator)
    figures = {}
    for split, tag in eval_sets.SPLIT_TAGS.items():
        prompts = [p for kind in ("one", "two") for p in eval_sets.prompts(n_prompts, split, kind)]
        scores, right = judge(pipeline, prompts)
        figures |= {f"{name}_{tag}": round(value, 4) for name, value in curve(scores, right).items()}
        figures[f"some_right_{tag}"] = right.any(1).float().mean().item()  # the ceiling of any ranker
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--translator", nargs="+", choices=sorted(dalle_mini.TRANSLATORS), default=["bart", "dalle"])
    parser.add_argument("--prompts", type=int, default=15, help="prompts per split and kind")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder of the record")
    args = parser.parse_args(argv)

    path = ablations.path(NAME, args.out)
    arms = json.loads(path.read_text())["arms"] if path.exists() else {}
    start = time.perf_counter()
    for translator in args.translator:
        began = time.perf_counter()
        arms[translator] = measure(translator, args.prompts)
        arms[translator]["seconds"] = round(time.perf_counter() - began, 1)
        print(f"{translator}: {arms[translator]}", flush=True)
    budget = {"candidates": CANDIDATES, "keep": KEEP, "ns": list(NS), "prompts_per_split_and_kind": args.prompts,
              "prompts": "eval_sets.prompts (canonical), seed i for prompt i", "sampling": "bart.DEFAULT_SAMPLING"}
    print("wrote", ablations.save(NAME, "what does DALL·E's 'generate 512, keep CLIP's top 32' buy, per translator?",
                                  arms, budget, time.perf_counter() - start, args.out))


if __name__ == "__main__":
    main()

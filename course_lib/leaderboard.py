"""The course's closing leaderboard (notebook 14): every text-to-image system it built, measured alike.

The history deck runs from GANs (2014) to DALL·E 2 and Imagen (2022). The course rebuilt each system
on ShapesWorld; here they meet on the same prompts, judged by the same oracle:

    system.draw(prompts, seed) -> pictures (B, 3, 32, 32)         one picture per prompt
    caption_acc_{seen,heldout}_{one,two}   the oracle reads the prompt's scene off the picture
    best_of_16_{seen,heldout}_{one,two}    CLIP ranks 16 pictures of a prompt; the first is judged
    swap_{colour,shape,position}_{tag}     two-object pictures with the attributes exchanged (``swaps``)
    diversity, variety                     16 pictures of "a red circle": pixel spread, distinct right answers
    parameters, training_seconds           what draws, and the CPU time its shipped checkpoints cost
    seconds_per_picture                    the one-picture draws above, divided by their number

Every row has the same names; a figure a system cannot have is absent (GAN-CLS and the conditional VAE
draw one object; VQGAN + CLIP optimises every picture, ~3 s each on one CPU thread, so it is measured
on fewer prompts and without CLIP's best of 16). ``python -m benchmarks.leaderboard`` measures every
system whose checkpoints exist and writes the record this module reads (``load``, ``markdown``).

``judge_candidates`` and ``ranked_by_clip`` are how the course measures CLIP's reranking of any
generator (DALL·E's best of N); the stage benchmarks use them too.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from . import bart, checkpoints, clip_guidance, dalle_mini, eval_sets, metrics, oracle, shapes, stages, swaps, vqgan_clip
from .clip import ShapesCLIP
from .eval_sets import SPLIT_TAGS
from .paths import DATA_DIR

CANDIDATES = 16  # pictures CLIP ranks per prompt (best_of_16_*)
SPREAD_PROMPT = "a red circle"  # the partial prompt whose 16 pictures measure diversity and variety
CLIP_GUIDANCE_SCALE = 0.3  # larger scales break the pictures the unconditional model draws (notebook 14)
RECORD = DATA_DIR / "leaderboard.json"

Draw = Callable[[list[str], int], torch.Tensor]  # (prompts, seed) -> pictures (B, 3, 32, 32) in [0, 1]


@dataclasses.dataclass(frozen=True)
class System:
    """One text-to-image system of the course: where it is taught, whose idea it is, what it is made of."""

    key: str
    name: str
    notebook: str
    paper: str
    year: int  # the paper's year, for the timeline
    checkpoints: tuple[str, ...]  # the shipped checkpoints that draw
    trained: tuple[str, ...]  # every checkpoint whose training made it (its parts and where they started)
    kinds: tuple[str, ...] = shapes.KINDS  # the scene kinds it can draw
    slow: bool = False  # optimised per picture: fewer prompts, no best of 16
    translator: bool = True  # False: no network was trained to turn text into pictures


LATENT = ("vqgan", "vqvae")  # the image tokenizer every latent system draws through, and where it started
SYSTEMS = (
    System("text_gan", "GAN-CLS", "02", "Reed et al.", 2016, ("text_gan",), ("text_gan", "clip"), kinds=("one",)),
    System("cvae", "conditional VAE", "04", "Sohn et al.", 2015, ("cvae",), ("cvae",), kinds=("one",)),
    System("bart", "Dall·E Mini (BART + VQ-GAN)", "09", "Dayma et al.", 2021, ("bart", "vqgan"),
           ("bart", *LATENT)),
    System("dalle", "DALL·E (one-stream transformer)", "10", "Ramesh et al.", 2021, ("dalle", "vqgan"),
           ("dalle", *LATENT)),
    System("vqgan_clip", "VQGAN + CLIP", "14", "Crowson et al.", 2021, ("vqgan", "clip"), ("clip", *LATENT),
           slow=True, translator=False),
    System("clip_guidance", "CLIP-guided diffusion", "14", "Disco Diffusion", 2021, ("diffusion", "clip"),
           ("diffusion", "clip", *LATENT), translator=False),
    System("glide", "GLIDE", "12", "Nichol et al.", 2021, ("glide",), ("glide", "clip", *LATENT)),
    System("unclip", "DALL·E 2 (unCLIP)", "13", "Ramesh et al.", 2022, ("unclip",), ("unclip", "clip", *LATENT)),
    System("imagen", "Imagen-style (frozen BART encoder)", "13", "Saharia et al.", 2022, ("imagen",),
           ("imagen", "bart", *LATENT)),
)
BY_KEY = {system.key: system for system in SYSTEMS}


def missing(system: System, directory: str | Path = DATA_DIR) -> list[str]:
    """The checkpoints ``system`` draws with that ``directory`` lacks."""
    return [name for name in system.checkpoints if not (Path(directory) / f"{name}.safetensors").exists()]


def drawer(system: System, directory: str | Path = DATA_DIR, device: torch.device | str = "cpu"
           ) -> tuple[Draw, list[torch.nn.Module]]:
    """``system``'s ``draw(prompts, seed)`` from the checkpoints in ``directory``, and the models it uses."""
    parts = {name: stages.load(name, directory, device) for name in system.checkpoints}
    if system.key == "text_gan":
        draw = lambda prompts, seed: parts["text_gan"].sample(prompts, seed=seed)
    elif system.key == "cvae":
        draw = lambda prompts, seed: parts["cvae"].generate(prompts, torch.Generator().manual_seed(seed))
    elif system.key in ("bart", "dalle"):
        draw = lambda prompts, seed: bart.pictures(parts[system.key], parts["vqgan"], prompts, seed=seed,
                                                   **bart.DEFAULT_SAMPLING)
    elif system.key == "vqgan_clip":
        draw = lambda prompts, seed: vqgan_clip.optimise(parts["vqgan"], parts["clip"], prompts,
                                                         vqgan_clip.VqganClipConfig(seed=seed)).pictures
    elif system.key == "clip_guidance":
        draw = lambda prompts, seed: clip_guidance.sample(parts["diffusion"], parts["clip"], prompts,
                                                          scale=CLIP_GUIDANCE_SCALE, seed=seed)
    else:  # glide, unclip, imagen
        draw = lambda prompts, seed: parts[system.key].sample(prompts, seed=seed)
    return (lambda prompts, seed=0: draw(list(prompts), seed).cpu()), list(parts.values())


def parameters(models: Sequence[torch.nn.Module]) -> int:
    """Parameters of the models, each tensor counted once (a checkpoint may hold a copy of another's parts)."""
    unique = {id(p): p for model in models for p in model.parameters()}
    return sum(p.numel() for p in unique.values())


def training_seconds(system: System, directory: str | Path = DATA_DIR) -> float | None:
    """CPU seconds the shipped checkpoints behind ``system`` took to train (their JSON records), or None
    when a record does not say."""
    total = 0.0
    for name in system.trained:
        seconds = checkpoints.read_config(Path(directory) / name).get("info", {}).get("seconds")
        if seconds is None:
            return None
        total += seconds
    return total


# ---------------------------------------------------------------- CLIP's best of 16, for any generator

def ranked_by_clip(generate: Draw, ranker: ShapesCLIP) -> Callable[[str, int], torch.Tensor]:
    """A ``draw(prompt, seed)`` for ``judge_candidates`` from a one-picture-per-prompt generator:
    ``CANDIDATES`` pictures of the prompt, sorted by CLIP's relevance, best first (DALL·E's reranking,
    applied to any generator)."""
    score = dalle_mini.clip_ranker(ranker)  # the pipeline's own ranking

    def draw(prompt: str, seed: int) -> torch.Tensor:
        images = generate([prompt] * CANDIDATES, seed).cpu()
        scores = score(images.to(next(ranker.parameters()).device), prompt).cpu()
        return images[scores.argsort(descending=True)]
    return draw


def judge_candidates(draw: Callable[[str, int], torch.Tensor], prompt_list: list[str]) -> dict[str, float]:
    """``draw(prompt, seed)`` makes ``CANDIDATES`` pictures, best first; the oracle judges them.
    ``random``: accuracy of one random candidate (the mean over all); ``best_of_16``: of the first;
    ``oracle_best_of_16``: some candidate is right; ``variety``: distinct answers to what the prompt
    leaves open among the right ones (``oracle.variety``; at most 1 for a prompt that names everything)."""
    random_pick, best, any_right, variety = [], [], [], []
    for seed, prompt in enumerate(prompt_list):
        images = draw(prompt, seed)
        right = oracle.caption_correct(images, [prompt] * len(images))
        random_pick.append(sum(right) / len(right))
        best.append(right[0])
        any_right.append(any(right))
        variety.append(oracle.variety(images, prompt))
    mean = lambda values: sum(values) / len(values)
    return {"random": mean(random_pick), "best_of_16": mean(best), "oracle_best_of_16": mean(any_right),
            "variety": mean(variety)}


# ---------------------------------------------------------------- one row of the leaderboard

@dataclasses.dataclass(frozen=True)
class Budget:
    """How many prompts per split and scene kind a row is measured on."""

    prompts: int  # one picture each (caption accuracy, swaps, speed)
    best_of: int  # the first ``best_of`` of them also get 16 pictures ranked by CLIP
    slow_prompts: int  # prompts for a slow system (``System.slow``), which gets no best of 16


BUDGETS = {"tiny": Budget(2, 1, 1),  # the tests
           "live": Budget(8, 2, 4),  # notebook 14's re-measurement, in a minute or two
           "full": Budget(100, 25, 25)}  # the published leaderboard


def measure(system: System, budget: Budget, ranker: ShapesCLIP, directory: str | Path = DATA_DIR,
            device: torch.device | str = "cpu") -> dict[str, float]:
    """One row: ``system`` drawn from the checkpoints in ``directory`` on the course's evaluation prompts
    (``eval_sets.prompts``: the same prompts for every system; a smaller budget takes the first ones)."""
    draw, models = drawer(system, directory, device)
    n = budget.slow_prompts if system.slow else budget.prompts
    figures, drawing_seconds, drawn = {}, 0.0, 0
    for split, tag in SPLIT_TAGS.items():
        for kind in system.kinds:
            prompt_list = eval_sets.prompts(n, split, kind)
            start = time.perf_counter()
            pictures = draw(prompt_list, 0)
            drawing_seconds, drawn = drawing_seconds + time.perf_counter() - start, drawn + len(prompt_list)
            figures[f"caption_acc_{tag}_{kind}"] = oracle.caption_accuracy(pictures, prompt_list)
            if kind == "two":
                figures |= {f"{k}_{tag}": v for k, v in swaps.swap_rates(pictures, prompt_list).items()}
            if not system.slow:
                best = judge_candidates(ranked_by_clip(draw, ranker), prompt_list[:budget.best_of])
                figures |= {f"{k}_{tag}_{kind}": best[k] for k in ("best_of_16", "oracle_best_of_16")}
    spread = draw([SPREAD_PROMPT] * CANDIDATES, 0)
    figures |= {"diversity": metrics.diversity(spread), "variety": oracle.variety(spread, SPREAD_PROMPT),
                "parameters": parameters(models), "seconds_per_picture": drawing_seconds / drawn}
    trained = training_seconds(system, directory)
    return figures if trained is None else figures | {"training_seconds": trained}


# ---------------------------------------------------------------- the record and its table

def load(path: str | Path = RECORD) -> dict:
    """The leaderboard record ``python -m benchmarks.leaderboard`` wrote: ``rows`` (system key -> figures),
    ``measured`` (system key -> when, budget, machine)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no leaderboard record at {path}: run `python -m benchmarks.leaderboard`")
    return json.loads(path.read_text())


def ranking(record: dict, figure: str) -> list[tuple[str, float]]:
    """(system key, value) of every row of ``record`` that has ``figure``, highest first; rows measured
    equal keep the course's order. A row without the figure (a system that cannot draw it) is left out."""
    order = [system.key for system in SYSTEMS]
    rows = [(key, row[figure]) for key, row in record["rows"].items() if figure in row]
    return sorted(rows, key=lambda item: (-item[1], order.index(item[0]) if item[0] in order else len(order)))


COLUMNS = (  # (heading, figure, kind of number)
    ("seen 1", "caption_acc_seen_one", "%"), ("seen 2", "caption_acc_seen_two", "%"),
    ("held-out 1", "caption_acc_heldout_one", "%"), ("held-out 2", "caption_acc_heldout_two", "%"),
    ("best of 16: seen 2", "best_of_16_seen_two", "%"), ("best of 16: held-out 2", "best_of_16_heldout_two", "%"),
    ("position swaps (seen)", "swap_position_seen", "%"), ("colour swaps (seen)", "swap_colour_seen", "%"),
    ("variety of 16", "variety", "n"), ("parameters", "parameters", "k"),
    ("training (CPU min)", "training_seconds", "min"), ("s / picture", "seconds_per_picture", "s"),
)


def _cell(value, unit: str) -> str:
    if value is None:
        return "–"
    return {"%": f"{100 * value:.1f}", "n": f"{value:.0f}", "k": f"{value / 1000:,.0f}k",
            "min": f"{value / 60:.0f}", "s": f"{value:.3g}"}[unit]


def markdown(record: dict) -> str:
    """The leaderboard as a Markdown table (shares in %), in course order, with when each row was measured."""
    header = "| system | notebook | " + " | ".join(heading for heading, _, _ in COLUMNS) + " |"
    lines = [header, "| --- | --- |" + " ---: |" * len(COLUMNS)]
    for system in SYSTEMS:
        row = record["rows"].get(system.key)
        if row is not None:
            lines.append(f"| {system.name} ({system.paper} {system.year}) | {system.notebook} | "
                         + " | ".join(_cell(row.get(figure), unit) for _, figure, unit in COLUMNS) + " |")
    lines += ["", *[f"- {BY_KEY[key].name}: {when}" for key, when in record.get("measured", {}).items()]]
    return "\n".join(lines)

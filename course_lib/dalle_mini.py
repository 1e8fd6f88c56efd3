"""The Dall·E Mini pipeline, scaled down: prompt → BART → N token grids → VQ-GAN → N pictures → CLIP → best first.

Slides "Part 5: Piecing the blocks together" and DALL·E's "generate, rank with CLIP, keep the best":

1. the caption tokenizer turns the prompt into ids, and BART's encoder reads them;
2. BART's decoder samples N token grids (8×8 codes each), independently, with temperature, top-k and
   classifier-free guidance ("super conditioning");
3. the VQ-GAN decoder turns each grid into a 32×32 picture;
4. CLIP scores every picture against the prompt (100 × cosine), and the pictures come back sorted,
   best first.

The three parts are plain attributes of ``Pipeline`` with small interfaces, so a learner can swap in
their own: any ``translator`` with a ``sample(prompts, *, temperature, top_k, guidance_scale,
generator) -> codes (N, 64)`` method (``bart.CaptionToImageBart.sample``, or DALL·E's one-stream
transformer ``dalle.CaptionToImageGPT.sample``: ``TRANSLATORS``), any ``image_tokenizer`` with
``decode(codes (N, 8, 8)) -> pictures (N, 3, 32, 32)``, and any ``ranker(pictures, prompt) -> scores``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import torch

from . import bart, captions, clip, dalle, device_of

Ranker = Callable[[torch.Tensor, str], torch.Tensor]  # (pictures (N, 3, H, W), prompt) -> scores (N,)


@dataclasses.dataclass
class Drawing:
    """What one call of ``Pipeline.draw`` made, best first, with every stage kept for inspection."""

    prompt: str
    images: torch.Tensor  # (N, 3, 32, 32) in [0, 1], sorted by score, best first
    scores: torch.Tensor  # (N,) the ranker's scores, descending
    codes: torch.Tensor  # (N, 8, 8) the token grids BART wrote, in the same order
    order: torch.Tensor  # (N,) index of each picture in sampling order


@dataclasses.dataclass
class ClipRanker:
    """Rank by CLIP relevance: 100 × cosine of picture and prompt embeddings. (B, 3, 32, 32) -> (B,)"""

    model: clip.ShapesCLIP

    def __call__(self, images: torch.Tensor, prompt: str) -> torch.Tensor:
        return clip.relevance(self.model, images, [prompt])[:, 0]


def clip_ranker(model: clip.ShapesCLIP) -> Ranker:
    """The pipeline's ranker from a CLIP (``ClipRanker``; its ``model`` stays at hand)."""
    return ClipRanker(model)


@dataclasses.dataclass
class Pipeline:
    translator: torch.nn.Module  # has sample(prompts, *, temperature, top_k, guidance_scale, generator) -> (N, 64)
    image_tokenizer: torch.nn.Module  # has decode(codes (N, 8, 8)) -> pictures (N, 3, 32, 32)
    ranker: Ranker
    temperature: float = bart.DEFAULT_SAMPLING["temperature"]
    top_k: int | None = bart.DEFAULT_SAMPLING["top_k"]
    guidance_scale: float = bart.DEFAULT_SAMPLING["guidance_scale"]

    @torch.no_grad()
    def draw(self, prompt: str, n: int = 16, *, seed: int = 0, batch_size: int = 64) -> Drawing:
        """Draw ``n`` candidates for ``prompt`` and return them sorted by score, best first.

        The prompt is checked first: an unknown word, an empty or an overlong prompt raises
        ``captions.CaptionError`` naming the problem. The same seed gives the same pictures.
        """
        captions.parse(prompt)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"the number of candidates must be a positive integer, got {n!r}")
        generator = torch.Generator().manual_seed(seed)
        codes = torch.cat([
            self.translator.sample([prompt] * min(batch_size, n - start), temperature=self.temperature,
                                   top_k=self.top_k, guidance_scale=self.guidance_scale, generator=generator)
            for start in range(0, n, batch_size)])  # (n, 64)
        side = int(codes.shape[1] ** 0.5)
        grids = codes.view(n, side, side)
        images = self.image_tokenizer.decode(grids.to(device_of(self.image_tokenizer))).float().cpu()
        scores = self.ranker(images.to(device_of(self.translator)), prompt).float().cpu()
        order = scores.argsort(descending=True)
        return Drawing(prompt, images[order], scores[order], grids[order].cpu(), order)


PARTS = ("bart", "vqgan", "clip")  # the checkpoints the pipeline is made of, with BART as its translator
# the translators that write image tokens from a caption: checkpoint name -> model class (notebook 10)
TRANSLATORS = {"bart": bart.CaptionToImageBart, "dalle": dalle.CaptionToImageGPT}


def parts(translator: str = "bart") -> tuple[str, str, str]:
    """The checkpoints of the pipeline with ``translator`` (a name of ``TRANSLATORS``) writing its tokens."""
    if translator not in TRANSLATORS:
        raise ValueError(f"unknown translator {translator!r}; choose one of: {', '.join(TRANSLATORS)}")
    return (translator, *PARTS[1:])


def checkpoint_paths(directory: str | Path | None = None, translator: str = "bart") -> dict[str, Path]:
    """Where each part comes from: ``directory``'s checkpoint when it holds one (a folder that
    ``python -m course_lib train STAGE --out DIR`` wrote), else the shipped one.

    A folder with none of the parts is refused (drawing would silently use only shipped ones), and
    so is a ``vqgan`` of its own without a translator beside it: the shipped translator writes the
    shipped vqgan's codes, which another vqgan reads as different pictures.
    """
    from . import checkpoints

    names = parts(translator)
    found = {} if directory is None else {
        name: Path(directory) / f"{name}.safetensors" for name in names
        if (Path(directory) / f"{name}.safetensors").exists()}
    if directory is not None and not found:
        raise checkpoints.CheckpointError(
            f"{directory} holds no {', '.join(names)} checkpoint; train one there "
            f"(python -m course_lib train {translator} --out {directory}) or leave out --checkpoints")
    if "vqgan" in found and translator not in found:
        raise checkpoints.CheckpointError(
            f"{found['vqgan']} needs a {translator} trained on its codes beside it (the shipped {translator} "
            f"writes the shipped vqgan's); train one: python -m course_lib train {translator} --out {directory}")
    return {name: found.get(name, checkpoints.shipped(name)) for name in names}


def load_shipped_pipeline(device: torch.device | str | None = None, *, directory: str | Path | None = None,
                          stand_in: bool = False, translator: str = "bart", **sampling) -> Pipeline:
    """The pipeline of the shipped checkpoints (``bart``, ``vqgan``, ``clip``), on ``device`` (CUDA
    when present); ``translator="dalle"`` puts DALL·E's one-stream transformer in BART's place. With
    ``directory``, each part found there replaces the shipped one (``checkpoint_paths``).
    ``sampling`` sets temperature / top_k / guidance_scale (default ``bart.DEFAULT_SAMPLING``).

    A missing checkpoint raises ``CheckpointError``; with ``stand_in`` (notebook 09, so that a fresh
    checkout before training still runs top to bottom) a small model with random weights stands in,
    and a printed note says its pictures are noise."""
    from . import vqgan
    from . import device as pick_device

    dev = torch.device(device) if device is not None else pick_device()
    if dev.type == "cuda":
        pick_device("cuda")  # without a GPU: the course's one line, before loading, not torch's error after
    paths = checkpoint_paths(directory, translator)

    def part(name: str, model_cls, random_weights):
        if stand_in and not paths[name].exists():
            print(f"NOTE: no {paths[name].name} yet; a small {name} with random weights stands in "
                  "(its pictures are noise)")
            return random_weights().eval().to(dev)
        return model_cls.from_checkpoint(paths[name]).to(dev)

    tokenizer = part("vqgan", vqgan.VQGAN, lambda: vqgan.VQGAN(vqgan.preset("tiny").config))
    stand_ins = {"bart": lambda: bart.build(bart.preset("smoke").config, tokenizer),
                 "dalle": lambda: dalle.build(dalle.preset("smoke").config, tokenizer)}
    writer = part(translator, TRANSLATORS[translator], stand_ins[translator])
    ranker_model = part("clip", clip.ShapesCLIP, lambda: clip.ShapesCLIP(clip.preset("tiny").config))
    return Pipeline(writer, tokenizer, clip_ranker(ranker_model), **{**bart.DEFAULT_SAMPLING, **sampling})


# ---------------------------------------------------------------- DALL·E's "generate 512, keep CLIP's top 32"

def judged(drawing: Drawing) -> tuple[torch.Tensor, torch.Tensor]:
    """A drawing's candidates back in sampling order: (scores (n,), right (n,) bool, the oracle's verdict
    on each picture against the prompt), for ``rerank_accuracy``."""
    from . import oracle

    n = len(drawing.scores)
    scores, right = torch.empty_like(drawing.scores), torch.empty(n, dtype=torch.bool)
    scores[drawing.order] = drawing.scores
    right[drawing.order] = torch.tensor(oracle.caption_correct(drawing.images, [drawing.prompt] * n))
    return scores, right


def rerank_accuracy(scores: torch.Tensor, right: torch.Tensor, n: int, keep: int = 1) -> float:
    """DALL·E's reranking, measured: generate ``n``, keep the ``keep`` the ranker scores highest, and
    count the share of kept pictures that are right. ``scores`` and ``right`` are (P, M) for P prompts
    and M candidates each in sampling order; the M candidates are cut into M // n disjoint groups of
    ``n`` (all used, so every n is averaged over the same pictures), and the share is the mean over
    prompts, groups and kept pictures. ``keep=1`` is the ranker's first choice; n = 1 is a random sample."""
    prompts, m = scores.shape
    if not 1 <= keep <= n <= m:
        raise ValueError(f"need 1 <= keep <= n <= candidates, got keep={keep}, n={n}, candidates={m}")
    groups = m // n
    grouped_scores = scores[:, :groups * n].reshape(prompts, groups, n)  # (P, M // n, n)
    grouped_right = right[:, :groups * n].reshape(prompts, groups, n)
    kept = grouped_scores.topk(keep, dim=-1).indices  # (P, M // n, keep)
    return grouped_right.gather(-1, kept).float().mean().item()

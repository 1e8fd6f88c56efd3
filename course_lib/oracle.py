"""The oracle: reads a ShapesWorld scene back from pixels and scores pictures against captions.

Every lesson needs a yardstick that does not depend on the model being judged. Because ShapesWorld
is drawn by a known program, a picture can be read back exactly: which colours are present, and for
each colour which (shape, size, cell) template it fits best. The oracle works in three steps:

1. **Colour.** Each pixel is compared with every palette colour ``c`` as a blend with the black
   background, ``p ≈ α·c``; the colour with the smallest residual owns the pixel, with coverage α.
   This reads anti-aliased and blurred edges (dimmed colours) as the right colour.
2. **Shape.** Each colour present (enough coverage) is matched against every rendered template by
   soft intersection-over-union; the best template gives shape, size and cell.
3. **Every pixel accounted for.** The objects' templates (grown by one pixel, for blurred edges) must
   cover every coloured pixel: a patch of colour outside them (a second shape of the same colour, a
   stray blob, a faint colour too small to be an object) is refused. Without this
   step a big and a small red circle read as one red circle, since one template still fits their
   union with IoU 0.63 (issue #20).
4. **Validity.** A reading is a valid scene only if it has 1 or 2 objects, each fits its template
   well (IoU ≥ ``MIN_IOU``), nothing is left unexplained, and two objects stand in a relation (same
   row or column). Anything else, noise above all, is "no valid scene", with the reason.

It is right on rendered scenes, tolerates mild noise and blur (as generated pictures have), and says
"no valid scene" for garbage: tests/test_oracle.py measures all three.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import captions as _captions
from .shapes import (COLOR_NAMES, COLORS, POSITIONS, RESOLUTIONS, SHAPES, SIZES, Obj, Scene, all_one_object_scenes,
                     relation_between, shape_masks)

MIN_COVERAGE = 0.25  # a pixel counts for a colour when it is at least this much of it
MIN_MASS = 10.0  # least coverage (in pixels at 32×32) for a colour to count as an object
MIN_IOU = 0.55  # least soft IoU between a colour's pixels and its best template
MAX_RESIDUAL = 0.08  # a pixel further than this (squared RGB distance) from every blend is off-palette
# Unexplained coverage: colour outside every object's template grown by one pixel. Rendered scenes
# have none; blurred (σ = 1) and noisy (σ = 0.06) ones at most 1.5 in any 3×3 window and 3.6 in all
# (4,000 scenes, tests/test_oracle.py); a 2×2 stray patch has 4 in one window.
MAX_STRAY = 3.0  # most unexplained coverage in any 3×3 window (in pixels at full colour)
MAX_UNEXPLAINED = 6.0  # most unexplained coverage in the whole picture (at 32×32)


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the oracle reads off one picture: a ``Scene`` or ``None`` with the reason why not."""

    scene: Scene | None
    reason: str = ""
    fit: tuple[float, ...] = ()  # IoU of each object with its template

    @property
    def valid(self) -> bool:
        return self.scene is not None


def _as_images(images) -> torch.Tensor:
    """Accept (3, H, W) or (B, 3, H, W) float pictures in [0, 1]; say clearly what is wrong otherwise."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"the oracle reads image tensors, got {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"the oracle reads RGB pictures shaped (B, 3, H, W) or (3, H, W), got {tuple(images.shape)}")
    if images.shape[2] != images.shape[3] or images.shape[2] not in RESOLUTIONS:
        raise ValueError(f"the oracle reads square pictures of {' or '.join(map(str, RESOLUTIONS))} pixels, "
                         f"got {images.shape[2]}×{images.shape[3]}")
    if not images.is_floating_point():
        raise TypeError(f"the oracle reads float pictures in [0, 1], got dtype {images.dtype}; "
                        "divide uint8 pictures by 255")
    images = images.detach().float().cpu()
    if images.numel() and not torch.isfinite(images).all():
        raise ValueError("pictures have NaN or infinite values: the oracle reads [0, 1]; "
                         "check the model that made them")
    if images.numel() and images.min() < -0.2:
        raise ValueError("pictures have values below 0: the oracle reads [0, 1]; "
                         "map [-1, 1] model outputs with (x + 1) / 2 first")
    if images.numel() and images.max() > 1.2:
        raise ValueError(f"pictures have values up to {images.max():.3g}: the oracle reads [0, 1]; "
                         "divide 0-255 pictures by 255 (or clamp model outputs to [0, 1])")
    return images.clamp(0, 1)


_PALETTE = torch.tensor([COLORS[c] for c in COLOR_NAMES])  # (K, 3)


def colour_coverage(images) -> torch.Tensor:
    """Per colour, how much of each pixel it covers: (B, K, H, W) in [0, 1], K = 6 palette colours.

    Each pixel ``p`` is explained as ``α·c`` for the palette colour ``c`` with the smallest residual
    ``|p - α·c|²``; that colour gets coverage α there, the others 0.
    """
    x = _as_images(images)  # (B, 3, H, W)
    pixels = x.permute(0, 2, 3, 1).unsqueeze(-2)  # (B, H, W, 1, 3)
    palette = _PALETTE  # (K, 3)
    alpha = ((pixels * palette).sum(-1) / (palette * palette).sum(-1)).clamp(0, 1)  # (B, H, W, K)
    residual = ((pixels - alpha.unsqueeze(-1) * palette) ** 2).sum(-1)  # (B, H, W, K)
    best = residual.argmin(-1, keepdim=True)  # (B, H, W, 1)
    owned = torch.zeros_like(alpha).scatter_(-1, best, 1.0)
    ok = (residual.gather(-1, best) <= MAX_RESIDUAL).float()
    coverage = alpha * owned * ok * (alpha >= MIN_COVERAGE).float()
    return coverage.permute(0, 3, 1, 2)  # (B, K, H, W)


def _templates(resolution: int) -> torch.Tensor:
    return torch.from_numpy(shape_masks(resolution).reshape(-1, resolution * resolution).copy())  # (T, HW)


def _template_attributes(index: int) -> tuple[str, str, int]:
    shape, rest = divmod(index, len(SIZES) * 9)
    size, cell = divmod(rest, 9)
    return SHAPES[shape], SIZES[size], cell


def read(images) -> list[Reading]:
    """Read each picture of (B, 3, H, W) (or one (3, H, W)) back into a ``Reading``."""
    x = _as_images(images)
    resolution = x.shape[-1]
    cover = colour_coverage(x)  # (B, K, H, W)
    flat = cover.flatten(2)  # (B, K, HW)
    templates = _templates(resolution)  # (T, HW)
    inter = flat @ templates.T  # (B, K, T): soft intersection
    union = flat.sum(-1, keepdim=True) + templates.sum(-1) - inter
    iou = inter / union.clamp_min(1e-6)
    best_iou, best_t = iou.max(-1)  # (B, K)
    mass = flat.sum(-1)  # (B, K)
    scale = (resolution / 32) ** 2  # thresholds are in pixels at 32×32
    present = mass >= MIN_MASS * scale  # (B, K)

    # what no object explains: colour outside every object's grown template (a tint inside a shape,
    # such as a cyan rim on a green circle, is the shape's own business: step 1 gave it its colour)
    best_mask = templates[best_t].view(*best_t.shape, resolution, resolution)  # (B, K, H, W)
    grown = F.max_pool2d(best_mask, 3, stride=1, padding=1) > 0
    objects_area = (grown & present[..., None, None]).any(1, keepdim=True)  # (B, 1, H, W)
    unexplained = cover * ~objects_area  # (B, K, H, W)
    window = _stray_window(resolution)
    stray = F.avg_pool2d(unexplained, window, stride=1) * window ** 2  # (B, K, H', W')
    stray_max, stray_at = stray.flatten(2).max(-1)  # (B, K)

    readings = []
    for b in range(x.shape[0]):
        colours = [k for k in range(len(COLOR_NAMES)) if present[b, k]]
        reading = _reading(colours, best_iou[b], best_t[b])
        if reading.valid:
            reading = _account_for_every_pixel(reading, unexplained[b].flatten(1).sum(-1) / scale,
                                               stray_max[b] / scale, stray_at[b], stray.shape[-1], resolution)
        readings.append(reading)
    return readings


def _account_for_every_pixel(reading: Reading, unexplained: torch.Tensor, stray: torch.Tensor,
                             stray_at: torch.Tensor, width: int, resolution: int) -> Reading:
    """Refuse a reading when some colour is left unexplained: a patch (``MAX_STRAY`` in one window)
    or a spread (``MAX_UNEXPLAINED`` in all). ``unexplained``, ``stray``: (K,) per colour."""
    k = int(stray.argmax())
    if stray[k] > MAX_STRAY:
        row, col = divmod(int(stray_at[k]), width)
        half = _stray_window(resolution) // 2  # from the window's corner to its centre
        where = _where(row + half, col + half, resolution)
        return Reading(None, f"no valid scene: {COLOR_NAMES[k]} pixels {where} belong to no shape "
                             f"({float(stray[k]):.1f} px in a 3×3 patch; a second shape or a stray blob)")
    k = int(unexplained.argmax())
    if unexplained[k] > MAX_UNEXPLAINED:
        return Reading(None, f"no valid scene: {float(unexplained[k]):.1f} px of {COLOR_NAMES[k]} belong to "
                             f"no shape (at most {MAX_UNEXPLAINED:g})")
    return reading


def _stray_window(resolution: int) -> int:
    """Side of the window a stray patch is summed over: 3 pixels at 32×32, 6 at 64×64."""
    return resolution // 32 * 3


def _where(y: int, x: int, resolution: int) -> str:
    """Where pixel (y, x) lies, in the caption grammar's words ("in the top left corner")."""
    cell = min(y * 3 // resolution, 2) * 3 + min(x * 3 // resolution, 2)
    return _captions.POSITION_PHRASES[POSITIONS[cell]][0]


def _reading(present: list[int], best_iou: torch.Tensor, best_t: torch.Tensor) -> Reading:
    if not present:
        return Reading(None, "no valid scene: no coloured shape found")
    if len(present) > 2:
        return Reading(None, f"no valid scene: {len(present)} colours present, a scene has at most 2")
    objects, fits = [], []
    for k in present:
        fit = float(best_iou[k])
        shape, size, cell = _template_attributes(int(best_t[k]))
        if fit < MIN_IOU:
            return Reading(None, f"no valid scene: the {COLOR_NAMES[k]} pixels fit no shape "
                                 f"(best {shape}, IoU {fit:.2f} < {MIN_IOU})")
        objects.append(Obj(shape, COLOR_NAMES[k], size, cell))
        fits.append(fit)
    if len(objects) == 2 and relation_between(*objects) is None:
        return Reading(None, f"no valid scene: shapes at {objects[0].position} and {objects[1].position} "
                             "share neither a row nor a column")
    return Reading(Scene(tuple(objects)), "", tuple(fits))


# ---------------------------------------------------------------- scores built on readings

def same_scene(a: Scene | None, b: Scene | None) -> bool:
    """True when both are valid and show the same objects (in any order)."""
    return a is not None and b is not None and set(a.objects) == set(b.objects)


def agreement(images_a, images_b) -> float:
    """Share of picture pairs read as the same scene (e.g. an input and its reconstruction)."""
    ra, rb = read(images_a), read(images_b)
    return float(np.mean([same_scene(a.scene, b.scene) for a, b in zip(ra, rb)])) if ra else 0.0


def validity(images) -> float:
    """Share of pictures that read as a clean scene."""
    readings = read(images)
    return float(np.mean([r.valid for r in readings])) if readings else 0.0


def coverage(scenes: Iterable[Scene | None], key: Callable[[Obj], object],
             universe: Sequence[object]) -> float:
    """Share of ``universe`` (e.g. every (colour, shape) pair) that some object of ``scenes`` shows.

    A value of ``universe`` that no ShapesWorld object can show (a misspelt colour, a shape the world
    does not have) is refused: it would count as never covered and lower the figure silently."""
    possible = {key(o) for s in all_one_object_scenes() for o in s.objects}
    impossible = [u for u in universe if u not in possible]
    if impossible:
        raise ValueError(f"coverage's universe has {len(impossible)} value(s) no object can show, e.g. "
                         f"{impossible[0]!r}; build it from shapes.COLOR_NAMES, SHAPES, SIZES and cells 0..8")
    seen = {key(o) for s in scenes if s is not None for o in s.objects}
    return len(seen & set(universe)) / len(universe)


def _attributes_match(obj: Obj, spec: _captions.ObjSpec) -> bool:
    return (obj.shape == spec.shape and spec.color in (None, obj.color) and spec.size in (None, obj.size)
            and spec.cell in (None, obj.cell))


def _in_spec_order(scene: Scene | None, spec: _captions.CaptionSpec) -> tuple[Obj, ...] | None:
    """The scene's objects in the order ``spec`` names them, if they show what it says; else None."""
    if scene is None or len(scene.objects) != len(spec.objects):
        return None
    if len(spec.objects) == 1:
        return scene.objects if _attributes_match(scene.objects[0], spec.objects[0]) else None
    for a, b in (scene.objects, scene.objects[::-1]):
        if (_attributes_match(a, spec.objects[0]) and _attributes_match(b, spec.objects[1])
                and relation_between(a, b) == spec.relation):
            return a, b
    return None


def matches(scene: Scene | None, spec: _captions.CaptionSpec) -> bool:
    """True when ``scene`` shows exactly the objects ``spec`` names, each attribute and the relation right."""
    return _in_spec_order(scene, spec) is not None


def caption_correct(images, prompts: Sequence[str]) -> list[bool]:
    """For each picture, whether it shows what its caption says (every named attribute right)."""
    readings = read(images)
    if len(readings) != len(prompts):
        raise ValueError(f"{len(readings)} pictures but {len(prompts)} captions")
    return [matches(r.scene, _captions.parse(p)) for r, p in zip(readings, prompts)]


def caption_accuracy(images, prompts: Sequence[str]) -> float:
    """Share of pictures that show what their caption says."""
    correct = caption_correct(images, prompts)
    return float(np.mean(correct)) if correct else 0.0


def _left_open(obj: Obj, spec: _captions.ObjSpec) -> tuple:
    """What a right object shows that its spec does not say: its size and/or cell where left open."""
    return tuple(value for value, said in ((obj.size, spec.size), (obj.cell, spec.cell)) if said is None)


def variety(images, prompt: str) -> int:
    """How many different answers to what ``prompt`` leaves open the pictures give: distinct (size,
    position) readings over the pictures that show what it names. For "a red circle" 16 right pictures
    can give up to 16 (2 sizes × 9 cells); a model that draws one picture for it gives 1, and 0 means
    none was right. A prompt that names everything has variety 1 at most."""
    spec = _captions.parse(prompt)
    answers = set()
    for reading in read(images):
        objects = _in_spec_order(reading.scene, spec)
        if objects is not None:
            answers.add(tuple(v for o, sp in zip(objects, spec.objects) for v in _left_open(o, sp)))
    return len(answers)



# ---------------------------------------------------------------- what kind of mistake a picture makes

MISTAKE_KINDS = ("colour", "shape", "size", "position", "objects")
"""The kinds of mistake ``mistakes`` tells apart: an object's colour, shape or size differs from the
caption's; its cell or the relation between two objects does ("position"); or the picture does not
show the caption's number of objects, or reads as no valid scene at all ("objects")."""


def _wrong_attributes(obj: Obj, spec: _captions.ObjSpec) -> set[str]:
    said = (("colour", obj.color, spec.color), ("shape", obj.shape, spec.shape),
            ("size", obj.size, spec.size), ("position", obj.cell, spec.cell))
    return {kind for kind, shown, asked in said if asked is not None and shown != asked}


def _kinds(scene: Scene | None, spec: _captions.CaptionSpec) -> frozenset[str]:
    if scene is None or len(scene.objects) != len(spec.objects):
        return frozenset({"objects"})
    if len(spec.objects) == 1:
        return frozenset(_wrong_attributes(scene.objects[0], spec.objects[0]))
    # Two objects: pair them with the caption's two the way that explains the picture with the fewest
    # mistakes, so "a red circle above a blue square" drawn as a blue square above a red circle is one
    # mistake (the relation), not four (both colours and both shapes).
    pairings = []
    for a, b in (scene.objects, scene.objects[::-1]):
        wrong = _wrong_attributes(a, spec.objects[0]) | _wrong_attributes(b, spec.objects[1])
        if relation_between(a, b) != spec.relation:
            wrong.add("position")
        pairings.append(frozenset(wrong))
    return min(pairings, key=len)


def mistakes(images, prompts: Sequence[str]) -> list[frozenset[str]]:
    """For each picture, the kinds of mistake (from ``MISTAKE_KINDS``) it makes against its caption;
    empty exactly when ``caption_correct`` says it is right. A picture may make several, e.g. a wrong
    colour and a wrong size. Counting them over a model's wrong pictures says which concept it has
    not learnt, the question behind notebook 07's token noise."""
    readings = read(images)
    if len(readings) != len(prompts):
        raise ValueError(f"{len(readings)} pictures but {len(prompts)} captions")
    return [_kinds(r.scene, _captions.parse(p)) for r, p in zip(readings, prompts)]


def mistake_counts(images, prompts: Sequence[str]) -> dict[str, int]:
    """How many pictures make each kind of mistake, plus "wrong" (pictures with any) and "pictures"."""
    found = mistakes(images, prompts)
    counts = {kind: sum(kind in m for m in found) for kind in MISTAKE_KINDS}
    return {**counts, "wrong": sum(bool(m) for m in found), "pictures": len(found)}

"""ShapesWorld: the course's own pictures of coloured shapes.

Birds, flowers and COCO are far too big to train on a laptop CPU in minutes and cannot be
downloaded in a workshop without internet, so the course draws its own world instead: small RGB
pictures (32×32 by default, 64×64 as an option) of one or two coloured shapes on a black
background, made on the fly and deterministic by seed.

A scene is a tuple of objects; each object has a shape, a colour, a size and a cell of a 3×3 grid.
Two-object scenes put the objects in one of four relations (above, below, left of, right of): the
same column for above/below, the same row for left/right, always in different colours so that a
caption can name each object by its colour.

Some combinations are *held out*: training never sees them, so generating them tests whether a model
composes concepts it learned apart (DESIGN.md, "ShapesWorld"). They are fixed here, in one place:
``HELDOUT_PAIRS`` (colour, shape) never appear anywhere in training, and ``HELDOUT_RELATIONS``
(shape, relation, shape) never appear in a two-object training scene.

Rendering is fast because every (shape, size, cell) mask is drawn once per resolution, with 4×
supersampling for anti-aliased edges, and a scene is a sum of masks times colours.
"""
from __future__ import annotations

import dataclasses
import functools
import random
from typing import Iterable, Sequence

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond")
COLORS = {  # name -> RGB in [0, 1]; six hues far apart so a blurred edge still reads as one colour
    "red": (0.90, 0.15, 0.15),
    "green": (0.15, 0.75, 0.20),
    "blue": (0.15, 0.30, 1.00),
    "yellow": (0.95, 0.85, 0.10),
    "purple": (0.70, 0.20, 0.80),
    "cyan": (0.10, 0.85, 0.85),
}
COLOR_NAMES = tuple(COLORS)
SIZES = ("small", "big")
SIZE_FRACTION = {"small": 0.22, "big": 0.32}  # shape width as a share of the picture's width
POSITIONS = (  # the 3×3 grid, row by row
    "top left", "top", "top right",
    "left", "middle", "right",
    "bottom left", "bottom", "bottom right",
)
RELATIONS = ("above", "below", "left of", "right of")
RESOLUTIONS = (32, 64)
KINDS = ("one", "two")
SPLITS = ("train", "heldout")

HELDOUT_PAIRS = frozenset({("purple", "triangle"), ("cyan", "square"), ("yellow", "diamond")})
HELDOUT_RELATIONS = frozenset({("circle", "above", "square"), ("triangle", "left of", "diamond")})

_SUPERSAMPLE = 4


@dataclasses.dataclass(frozen=True)
class Obj:
    """One shape in a scene. ``cell`` is the index 0..8 into ``POSITIONS`` (row-major 3×3 grid)."""

    shape: str
    color: str
    size: str
    cell: int

    def __post_init__(self):
        _check_choice("shape", self.shape, SHAPES)
        _check_choice("color", self.color, COLOR_NAMES)
        _check_choice("size", self.size, SIZES)
        if not (isinstance(self.cell, int) and 0 <= self.cell < len(POSITIONS)):
            raise ValueError(f"cell must be an integer 0..8 (index into POSITIONS), got {self.cell!r}")

    @property
    def row(self) -> int:
        return self.cell // 3

    @property
    def col(self) -> int:
        return self.cell % 3

    @property
    def position(self) -> str:
        return POSITIONS[self.cell]


@dataclasses.dataclass(frozen=True)
class Scene:
    """One or two objects. For two objects, ``objects[0]`` stands in ``relation`` to ``objects[1]``."""

    objects: tuple[Obj, ...]

    def __post_init__(self):
        if len(self.objects) not in (1, 2):
            raise ValueError(f"a scene has 1 or 2 objects, got {len(self.objects)}")
        if len(self.objects) == 2:
            a, b = self.objects
            if a.color == b.color:
                raise ValueError("the two objects of a scene must have different colours")
            if relation_between(a, b) is None:
                raise ValueError(
                    f"objects at {a.position!r} and {b.position!r} are not in a relation: "
                    "they must share a row (left of / right of) or a column (above / below)"
                )

    @property
    def kind(self) -> str:
        return KINDS[len(self.objects) - 1]

    @property
    def relation(self) -> str | None:
        return relation_between(*self.objects) if len(self.objects) == 2 else None

    @property
    def is_heldout(self) -> bool:
        """True when the scene shows a combination that training never sees."""
        if any((o.color, o.shape) in HELDOUT_PAIRS for o in self.objects):
            return True
        if len(self.objects) == 2:
            a, b = self.objects
            rel = self.relation
            return (a.shape, rel, b.shape) in HELDOUT_RELATIONS or (
                b.shape, INVERSE_RELATION[rel], a.shape) in HELDOUT_RELATIONS
        return False


INVERSE_RELATION = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}


def relation_between(a: Obj, b: Obj) -> str | None:
    """The relation of ``a`` to ``b`` ("above", ...) or None when they share neither row nor column."""
    if a.col == b.col and a.row != b.row:
        return "above" if a.row < b.row else "below"
    if a.row == b.row and a.col != b.col:
        return "left of" if a.col < b.col else "right of"
    return None


def _check_choice(what: str, value, choices: Sequence[str]):
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(map(str, choices))}")


# ---------------------------------------------------------------- sampling scenes

def _random_obj(rng: random.Random, cell: int, exclude_color: str | None = None) -> Obj:
    colors = [c for c in COLOR_NAMES if c != exclude_color]
    return Obj(rng.choice(SHAPES), rng.choice(colors), rng.choice(SIZES), cell)


def _random_scene(rng: random.Random, kind: str) -> Scene:
    if kind == "one":
        return Scene((_random_obj(rng, rng.randrange(9)),))
    a_cell = rng.randrange(9)
    partners = [c for c in range(9) if c != a_cell and (c // 3 == a_cell // 3 or c % 3 == a_cell % 3)]
    a = _random_obj(rng, a_cell)
    b = _random_obj(rng, rng.choice(partners), exclude_color=a.color)
    return Scene((a, b))


def sample_scenes(n: int, *, seed: int = 0, split: str = "train", kind: str = "mixed") -> list[Scene]:
    """``n`` random scenes of one split, deterministic for a given ``seed``.

    ``kind`` is "one", "two" or "mixed" (half and half, alternating). ``split="train"`` gives only
    combinations that training may see, ``split="heldout"`` only held-out ones.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    _check_choice("split", split, SPLITS)
    _check_choice("kind", kind, KINDS + ("mixed",))
    rng = random.Random(f"shapesworld-{seed}-{split}-{kind}")
    want_heldout = split == "heldout"
    scenes = []
    while len(scenes) < n:
        k = kind if kind != "mixed" else KINDS[len(scenes) % 2]
        scene = _random_scene(rng, k)
        if scene.is_heldout == want_heldout:
            scenes.append(scene)
    return scenes


def all_one_object_scenes(split: str | None = None) -> list[Scene]:
    """Every one-object scene (432 = 4 shapes × 6 colours × 2 sizes × 9 cells), optionally one split."""
    scenes = [Scene((Obj(s, c, z, cell),)) for s in SHAPES for c in COLOR_NAMES for z in SIZES
              for cell in range(9)]
    if split is None:
        return scenes
    _check_choice("split", split, SPLITS)
    return [s for s in scenes if s.is_heldout == (split == "heldout")]


# ---------------------------------------------------------------- rendering

def _shape_inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` in coordinates centred on it, scaled so the shape spans [-1, 1]."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    if shape == "triangle":  # pointing up, base at the bottom
        return (v <= 0.9) & (v >= -1.0 + 2.0 * np.abs(u) - 0.1)
    raise ValueError(f"unknown shape {shape!r}")


def cell_center(cell: int, resolution: int) -> tuple[float, float]:
    """(x, y) pixel coordinates of the centre of grid cell ``cell``."""
    step = resolution / 3
    return (cell % 3 + 0.5) * step, (cell // 3 + 0.5) * step


@functools.lru_cache(maxsize=len(RESOLUTIONS) + 2)
def shape_masks(resolution: int = 32) -> np.ndarray:
    """Anti-aliased coverage masks for every (shape, size, cell): (4, 2, 9, H, W) float32 in [0, 1]."""
    _check_resolution(resolution)
    fine = resolution * _SUPERSAMPLE
    coords = (np.arange(fine) + 0.5) / _SUPERSAMPLE  # pixel coordinates of the sub-samples
    x, y = np.meshgrid(coords, coords)
    masks = np.zeros((len(SHAPES), len(SIZES), 9, resolution, resolution), np.float32)
    for i, shape in enumerate(SHAPES):
        for j, size in enumerate(SIZES):
            half = SIZE_FRACTION[size] * resolution / 2
            for cell in range(9):
                cx, cy = cell_center(cell, resolution)
                inside = _shape_inside(shape, (x - cx) / half, (y - cy) / half)
                masks[i, j, cell] = inside.reshape(resolution, _SUPERSAMPLE, resolution, _SUPERSAMPLE).mean((1, 3))
    masks.setflags(write=False)
    return masks


def _check_resolution(resolution):
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")


_COLOR_TABLE = np.array([COLORS[c] for c in COLOR_NAMES], np.float32)  # (6, 3)


def render(scenes: Iterable[Scene], resolution: int = 32):
    """Draw scenes as a float tensor (N, 3, H, W) with values in [0, 1] (black background)."""
    import torch

    scenes = list(scenes)
    masks = shape_masks(resolution)
    out = np.zeros((len(scenes), 3, resolution, resolution), np.float32)
    for n, scene in enumerate(scenes):
        if not isinstance(scene, Scene):
            raise TypeError(f"render() takes Scene objects, got {type(scene).__name__}")
        for o in scene.objects:
            m = masks[SHAPES.index(o.shape), SIZES.index(o.size), o.cell]
            out[n] += _COLOR_TABLE[COLOR_NAMES.index(o.color)][:, None, None] * m
    return torch.from_numpy(np.clip(out, 0.0, 1.0))

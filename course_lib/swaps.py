"""Attribute binding, measured: which two-object pictures have their attributes swapped.

The history deck's "DALL-E2 limitations: confuses physical attributes (like colours and positions)"
(Ramesh et al. 2022, section 7: unCLIP "struggles at binding attributes to objects"). ShapesWorld can
count it. For a caption "A rel B" (A = a red circle, B = a blue square, rel = left of), read the
picture with the oracle; when it shows two objects standing in the caption's relation (or its
reverse), name the object in A's place p and the other q. Then the picture is

- right: p is (A's shape, A's colour) and q is B's, relation as said;
- ``colour`` swapped: the shapes in their places, the colours exchanged: p = (A's shape, B's colour),
  q = (B's shape, A's colour) ("a blue circle left of a red square");
- ``shape`` swapped: the colours in their places, the shapes exchanged: p = (B's shape, A's colour),
  q = (A's shape, B's colour) ("a red square left of a blue circle");
- ``position`` swapped: both objects right but each in the other's place (the relation reversed:
  "a blue square left of a red circle");

and anything else (a missing or extra object, a colour or shape that is nobody's, objects in no
relation) is none of the three. Sizes and cells are not part of a swap. The three are exclusive, and a
shape swap needs two shapes ("a red circle left of a blue circle" has none). Where the two share a
shape, exchanging places looks exactly like exchanging colours and is counted as ``colour``
(ShapesWorld's two objects, and its captions, always have two colours). ``swap_rates`` gives each kind's share of a set of pictures.

Why a single CLIP vector binds loosely (notebook 13): ``clip_prefers_right`` asks CLIP itself whether
it scores a right picture higher with its caption than with the swapped captions ``swapped_captions``.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

from . import captions, oracle
from .shapes import Obj, Scene, relation_between

SWAP_KINDS = ("colour", "shape", "position")
INVERSE = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}


def swap_kind(scene: Scene | None, spec: captions.CaptionSpec) -> str | None:
    """"colour", "shape" or "position" when ``scene`` shows ``spec``'s two objects with those swapped
    (see the module's docstring), else None (right, or wrong some other way)."""
    if scene is None or len(spec.objects) != 2 or len(scene.objects) != 2:
        return None
    a, b = spec.objects
    for p, q in (scene.objects, scene.objects[::-1]):
        if relation_between(p, q) != spec.relation:
            continue  # p is not in A's place
        if _is(p, a.shape, b.color) and _is(q, b.shape, a.color):
            return "colour"
        if _is(p, b.shape, a.color) and _is(q, a.shape, b.color) and a.shape != b.shape:
            return "shape"
        if _is(p, b.shape, b.color) and _is(q, a.shape, a.color):
            return "position"
    return None


def _is(obj: Obj, shape: str, color: str | None) -> bool:
    return obj.shape == shape and color in (None, obj.color)


def swaps(images, prompts: Sequence[str]) -> list[str | None]:
    """For each picture of a two-object prompt, its swap kind or None (``swap_kind``)."""
    readings = oracle.read(images)
    if len(readings) != len(prompts):
        raise ValueError(f"{len(readings)} pictures but {len(prompts)} captions")
    return [swap_kind(r.scene, captions.parse(p)) for r, p in zip(readings, prompts)]


def swap_rates(images, prompts: Sequence[str]) -> dict[str, float]:
    """Share of all the pictures with each kind of swap: ``swap_colour``, ``swap_shape``, ``swap_position``."""
    found = swaps(images, prompts)
    return {f"swap_{kind}": sum(k == kind for k in found) / max(1, len(found)) for kind in SWAP_KINDS}


def swapped_captions(prompt: str) -> dict[str, str]:
    """The swapped versions of a canonical or partial two-object caption, as captions of their own:
    {"colour": ..., "shape": ..., "position": ...}; "shape" is left out when both objects are one shape."""
    spec = captions.parse(prompt)
    if len(spec.objects) != 2:
        raise ValueError(f"{prompt!r} names one object; attribute swaps need a caption of two")
    a, b = spec.objects
    out = {"colour": _caption(dataclasses.replace(a, color=b.color), spec.relation, dataclasses.replace(b, color=a.color))}
    if a.shape != b.shape:
        out["shape"] = _caption(dataclasses.replace(a, shape=b.shape), spec.relation, dataclasses.replace(b, shape=a.shape))
    return out | {"position": _caption(b, spec.relation, a)}


def _caption(a: captions.ObjSpec, relation: str, b: captions.ObjSpec) -> str:
    """A canonical caption of two object specs (sizes kept where said; two-object captions name no cell)."""
    def phrase(o):
        return " ".join(w for w in ("a", o.size, o.color, o.shape) if w)

    return f"{phrase(a)} {captions.RELATION_PHRASES[relation][0]} {phrase(b)}"


@torch.no_grad()
def clip_prefers_right(model, images: torch.Tensor, prompts: Sequence[str]) -> dict[str, float]:
    """For pictures that show their two-object prompts, the share where CLIP (a ``ShapesCLIP``) scores
    the picture higher with its own caption than with each swapped caption: ``prefers_right_{kind}``.
    1.0 would be a CLIP that binds every attribute to its object; 0.5 one that cannot tell."""
    wins = {kind: [] for kind in SWAP_KINDS}
    image_features = model.encode_image(images)  # (B, D)
    for i, prompt in enumerate(prompts):
        swapped = swapped_captions(prompt)
        texts = model.encode_text([prompt, *swapped.values()])  # (1 + k, D)
        scores = texts @ image_features[i]
        for j, kind in enumerate(swapped):
            wins[kind].append(float(scores[0] > scores[j + 1]))
    return {f"prefers_right_{kind}": sum(w) / len(w) for kind, w in wins.items() if w}

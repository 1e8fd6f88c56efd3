"""Captions for ShapesWorld scenes: a small grammar that writes them and a parser that reads them.

The grammar has synonyms ("big" / "large", "square" / "box") and several word orders ("a big red
circle in the top left corner", "top left: a large red circle", "above a blue square there is a red
circle") so that turning a caption into a picture is a small language task and not a table lookup.

The parser reads any caption of this grammar (and a user's own prompt in the same words) back into a
``CaptionSpec``: the objects it names, with only the attributes it names, and their relation. The
oracle compares a spec with what it reads off a picture (``oracle.caption_accuracy``). Words outside
the grammar raise ``UnknownWordError`` with the list of known words, so a typo in a prompt gets a
clear answer rather than a silently wrong picture.
"""
from __future__ import annotations

import dataclasses
import random
import re

from .shapes import COLOR_NAMES, INVERSE_RELATION, RELATIONS, SHAPES, Scene

SHAPE_WORDS = {"circle": ("circle", "disc"), "square": ("square", "box"),
               "triangle": ("triangle",), "diamond": ("diamond", "rhombus")}
COLOR_WORDS = {c: (c,) for c in COLOR_NAMES} | {"purple": ("purple", "violet")}
SIZE_WORDS = {"small": ("small", "little", "tiny"), "big": ("big", "large")}
RELATION_PHRASES = {  # phrase -> relation; longest phrases are matched first
    "above": ("above", "over", "on top of"),
    "below": ("below", "under", "beneath"),
    "left of": ("to the left of", "left of"),
    "right of": ("to the right of", "right of"),
}
POSITION_PHRASES = {
    "top left": ("in the top left corner", "at the top left", "in the upper left corner"),
    "top": ("at the top", "in the top middle"),
    "top right": ("in the top right corner", "at the top right", "in the upper right corner"),
    "left": ("on the left", "at the left"),
    "middle": ("in the middle", "in the centre", "in the center"),
    "right": ("on the right", "at the right"),
    "bottom left": ("in the bottom left corner", "at the bottom left", "in the lower left corner"),
    "bottom": ("at the bottom", "in the bottom middle"),
    "bottom right": ("in the bottom right corner", "at the bottom right", "in the lower right corner"),
}
_VERTICAL = {"top": 0, "upper": 0, "bottom": 2, "lower": 2}
_HORIZONTAL = {"left": 0, "right": 2}
_CENTRE = {"middle", "centre", "center"}
FUNCTION_WORDS = ("a", "an", "the", "there", "is", "in", "at", "on", "of", "to", "with", "it", "and",
                  "corner", ",", ":", ".")
MAX_WORDS = 24  # the longest caption the grammar writes has 16 words; longer prompts are refused


def _words_of(table):
    return {w for phrases in table.values() for p in phrases for w in p.split()}


VOCABULARY = tuple(sorted(
    _words_of(SHAPE_WORDS) | _words_of(COLOR_WORDS) | _words_of(SIZE_WORDS) | _words_of(RELATION_PHRASES)
    | _words_of(POSITION_PHRASES) | set(_VERTICAL) | set(_HORIZONTAL) | _CENTRE | set(FUNCTION_WORDS)
))


class CaptionError(ValueError):
    """A prompt that ShapesWorld's grammar cannot read; the message says what is accepted."""


class UnknownWordError(CaptionError):
    """A prompt with a word outside the vocabulary."""


@dataclasses.dataclass(frozen=True)
class ObjSpec:
    """What a caption says of one object; ``None`` means the caption does not say."""

    shape: str
    color: str | None = None
    size: str | None = None
    cell: int | None = None


@dataclasses.dataclass(frozen=True)
class CaptionSpec:
    """A parsed caption: one or two objects and, for two, ``objects[0]`` is ``relation`` to ``objects[1]``."""

    objects: tuple[ObjSpec, ...]
    relation: str | None = None


# ---------------------------------------------------------------- writing captions

def _noun_phrase(obj, rng: random.Random | None, with_size: bool) -> str:
    pick = (lambda options: options[0]) if rng is None else rng.choice
    words = ["a"]
    if with_size:
        words.append(pick(SIZE_WORDS[obj.size]))
    words += [pick(COLOR_WORDS[obj.color]), pick(SHAPE_WORDS[obj.shape])]
    return " ".join(words)


def describe(scene: Scene, rng: random.Random | None = None) -> str:
    """A caption of ``scene``. With ``rng=None`` the canonical one (first synonym, first word order,
    every attribute); with an ``random.Random`` a varied one, as the training data uses."""
    if rng is None:
        if scene.kind == "one":
            obj = scene.objects[0]
            return f"{_noun_phrase(obj, None, True)} {POSITION_PHRASES[obj.position][0]}"
        a, b = scene.objects
        return f"{_noun_phrase(a, None, True)} {RELATION_PHRASES[scene.relation][0]} {_noun_phrase(b, None, True)}"

    if scene.kind == "one":
        obj = scene.objects[0]
        thing = _noun_phrase(obj, rng, with_size=rng.random() < 0.75)
        where = rng.choice(POSITION_PHRASES[obj.position])
        return rng.choice([
            f"{thing} {where}",
            f"{obj.position} : {thing}",
            f"there is {thing} {where}",
            f"{where} there is {thing}",
        ])
    a, b = scene.objects
    relation = scene.relation
    if rng.random() < 0.5:  # describe the same scene from the other object's side
        a, b, relation = b, a, INVERSE_RELATION[relation]
    subject = _noun_phrase(a, rng, with_size=rng.random() < 0.5)
    reference = _noun_phrase(b, rng, with_size=rng.random() < 0.5)
    rel = rng.choice(RELATION_PHRASES[relation])
    return rng.choice([
        f"{subject} {rel} {reference}",
        f"there is {subject} {rel} {reference}",
        f"{rel} {reference} there is {subject}",
        f"{reference} with {subject} {rel} it",
    ])


# ---------------------------------------------------------------- reading captions

def tokenize_words(text: str) -> list[str]:
    """Lower-case words and the punctuation marks , : . as separate tokens."""
    return re.findall(r"[a-z]+|[,:.]", text.lower())


def _lookup(table):
    return {w: key for key, words in table.items() for w in words}


_SHAPE_OF, _COLOR_OF, _SIZE_OF = _lookup(SHAPE_WORDS), _lookup(COLOR_WORDS), _lookup(SIZE_WORDS)
_RELATION_OF = sorted(((p.split(), rel) for rel, ps in RELATION_PHRASES.items() for p in ps),
                      key=lambda pr: -len(pr[0]))


def check_words(text: str) -> list[str]:
    """The prompt's words, or a ``CaptionError`` naming what is wrong and what is accepted."""
    if not isinstance(text, str):
        raise CaptionError(f"a prompt is a string, got {type(text).__name__}")
    if not text.strip():
        raise CaptionError('the prompt is empty; try e.g. "a big red circle in the middle"')
    unknown_chars = sorted(set(re.sub(r"[A-Za-z,:.\s]", "", text)))
    if unknown_chars:
        raise CaptionError(f"the prompt has characters ShapesWorld does not read: {' '.join(unknown_chars)} "
                           "(use letters and , : . only)")
    words = tokenize_words(text)
    if len(words) > MAX_WORDS:
        raise CaptionError(f"the prompt has {len(words)} words; at most {MAX_WORDS} are accepted")
    unknown = [w for w in words if w not in VOCABULARY]
    if unknown:
        raise UnknownWordError(
            f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(repr(w) for w in unknown)}; "
            f"ShapesWorld knows: {' '.join(w for w in VOCABULARY if w.isalpha())}")
    return words


def parse(text: str) -> CaptionSpec:
    """Read a caption into a ``CaptionSpec``; raise ``CaptionError`` with a reason if it cannot."""
    words = check_words(text)
    found = [(i, phrase, rel) for i in range(len(words)) for phrase, rel in _RELATION_OF
             if words[i:i + len(phrase)] == phrase]
    # "to the left of" also contains "left of": keep only phrases not inside a longer one
    found = [f for f in found if not any(g is not f and g[0] <= f[0] and f[0] + len(f[1]) <= g[0] + len(g[1])
                                         for g in found)]
    if len(found) > 1:
        raise CaptionError("the prompt names more than one relation; use one of: " + ", ".join(RELATIONS))
    relation, rel_at, rel_len = (found[0][2], found[0][0], len(found[0][1])) if found else (None, None, 0)
    rest = [(i, w) for i, w in enumerate(words) if rel_at is None or not rel_at <= i < rel_at + rel_len]

    objects, positions = [], []  # (index of the shape word, ObjSpec)
    size = color = None
    for i, w in rest:
        if w in _SIZE_OF:
            size = _SIZE_OF[w]
        elif w in _COLOR_OF:
            color = _COLOR_OF[w]
        elif w in _SHAPE_OF:
            objects.append((i, ObjSpec(_SHAPE_OF[w], color, size)))
            size = color = None
        elif w in _VERTICAL or w in _HORIZONTAL or w in _CENTRE:
            positions.append(w)
    if size is not None or color is not None:
        raise CaptionError(f"a size or colour is not followed by a shape; name one of: {', '.join(SHAPES)}")
    if not objects:
        raise CaptionError(f"the prompt names no shape; name one of: {', '.join(SHAPES)}")
    if len(objects) > 2:
        raise CaptionError(f"the prompt names {len(objects)} shapes; ShapesWorld scenes have 1 or 2")

    if relation is None:
        if len(objects) == 2:
            raise CaptionError("two shapes need a relation between them: "
                               + ", ".join(p[0] for p in RELATION_PHRASES.values()))
        obj = objects[0][1]
        if positions:
            obj = dataclasses.replace(obj, cell=_cell_from_words(positions))
        return CaptionSpec((obj,))

    if len(objects) != 2:
        raise CaptionError(f"the relation {relation!r} needs two shapes, the prompt names {len(objects)}")
    if positions:
        raise CaptionError("a two-shape prompt places the shapes by their relation; leave out "
                           f"the position words ({', '.join(positions)})")
    (i1, first), (i2, second) = objects
    if rel_at < i1:  # "above a blue square there is a red circle": the reference comes right after
        subject, reference = second, first
    elif rel_at > i2:  # "a blue square with a red circle above it"
        subject, reference = second, first
    else:  # "a red circle above a blue square"
        subject, reference = first, second
    return CaptionSpec((subject, reference), relation)


def _cell_from_words(words: list[str]) -> int:
    """Grid cell from position words: "top"/"upper"/"bottom"/"lower" pick the row, "left"/"right"
    the column, and whatever is not named is the middle."""
    row = next((_VERTICAL[w] for w in words if w in _VERTICAL), 1)
    col = next((_HORIZONTAL[w] for w in words if w in _HORIZONTAL), 1)
    return row * 3 + col


def spec_of_scene(scene: Scene) -> CaptionSpec:
    """The complete spec of a scene: what its canonical caption says."""
    return parse(describe(scene))

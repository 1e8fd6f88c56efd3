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
import difflib
import random
import re
from typing import Sequence

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

SIZE_NAMED = {"one": 0.75, "two": 0.5}  # share of varied captions that name an object's size
POSITION_NAMED = 0.7  # share of varied one-object captions that name the position
# Why both are below 1: people type short prompts ("a red circle"). A model that saw only captions
# naming every attribute drew two red circles for that prompt in 14 of 16 candidates (issue #20);
# captions that leave size or position open now and then teach it what "open" means: any of them.
OPEN_ATTRIBUTES = ("size", "position")  # what a caption may leave open; colour and shape are named


def _noun_phrase(obj, rng: random.Random | None, with_size: bool) -> str:
    pick = (lambda options: options[0]) if rng is None else rng.choice
    words = ["a"]
    if with_size:
        words.append(pick(SIZE_WORDS[obj.size]))
    words += [pick(COLOR_WORDS[obj.color]), pick(SHAPE_WORDS[obj.shape])]
    return " ".join(words)


def describe(scene: Scene, rng: random.Random | None = None, *, leave_open: tuple[str, ...] = ()) -> str:
    """A caption of ``scene``. With ``rng=None`` the canonical one (first synonym, first word order,
    every attribute but those in ``leave_open``, e.g. ``("size", "position")`` for "a red circle");
    with an ``random.Random`` a varied one, as the training data uses, which leaves size and position
    open now and then (``SIZE_NAMED``, ``POSITION_NAMED``)."""
    unknown = set(leave_open) - set(OPEN_ATTRIBUTES)
    if unknown:
        raise ValueError(f"leave_open takes {' and '.join(OPEN_ATTRIBUTES)}, got {', '.join(sorted(unknown))}")
    if rng is None:
        with_size = "size" not in leave_open
        if scene.kind == "one":
            obj = scene.objects[0]
            thing = _noun_phrase(obj, None, with_size)
            return thing if "position" in leave_open else f"{thing} {POSITION_PHRASES[obj.position][0]}"
        a, b = scene.objects
        return (f"{_noun_phrase(a, None, with_size)} {RELATION_PHRASES[scene.relation][0]} "
                f"{_noun_phrase(b, None, with_size)}")

    if scene.kind == "one":
        obj = scene.objects[0]
        thing = _noun_phrase(obj, rng, with_size=rng.random() < SIZE_NAMED["one"])
        if rng.random() >= POSITION_NAMED:
            return rng.choice([thing, f"there is {thing}"])
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
    subject = _noun_phrase(a, rng, with_size=rng.random() < SIZE_NAMED["two"])
    reference = _noun_phrase(b, rng, with_size=rng.random() < SIZE_NAMED["two"])
    rel = rng.choice(RELATION_PHRASES[relation])
    return rng.choice([
        f"{subject} {rel} {reference}",
        f"there is {subject} {rel} {reference}",
        f"{rel} {reference} there is {subject}",
        f"{reference} with {subject} {rel} it",
    ])


# ---------------------------------------------------------------- reading captions

ECHO_CHARS = 20  # a word echoed back in a message is cut to this length: a pasted blob stays one short line
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "both", "pair", "several", "many")
_ONE_OR_TWO = 'a scene has one or two shapes, each named once, as in "a red circle above a blue square"'
_ARTICLES = ("a", "an", "the")
# Only the words that carry meaning are listed and offered as spellings: the whole vocabulary would
# make the message too long, and a near miss of "in" or "the" ("pink") is no typo worth naming.
_KNOWN = tuple(w for w in VOCABULARY if w.isalpha() and w not in FUNCTION_WORDS)


def tokenize_words(text: str) -> list[str]:
    """Lower-case words and the punctuation marks , : . as separate tokens."""
    return re.findall(r"[a-z]+|[,:.]", text.lower())


def _lookup(table):
    return {w: key for key, words in table.items() for w in words}


_SHAPE_OF, _COLOR_OF, _SIZE_OF = _lookup(SHAPE_WORDS), _lookup(COLOR_WORDS), _lookup(SIZE_WORDS)
_RELATION_OF = sorted(((p.split(), rel) for rel, ps in RELATION_PHRASES.items() for p in ps),
                      key=lambda pr: -len(pr[0]))


def _shown(word: str) -> str:
    """A word quoted for a message, cut to ``ECHO_CHARS`` characters."""
    return repr(word if len(word) <= ECHO_CHARS else word[:ECHO_CHARS] + "…")


def _listed(items: list[str], most: int = 3) -> str:
    """The first ``most`` items and how many more, so that a long prompt still gets a one-line answer."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def _counts_shapes(word: str) -> bool:
    """Whether a word counts shapes ("two", "circles"): ShapesWorld names each shape once, with "a"."""
    return word in NUMBER_WORDS or word.removesuffix("s") in _SHAPE_OF or word.removesuffix("es") in _SHAPE_OF


def _spelling(word: str) -> str:
    """The word, quoted, with the known word it is likely a typo of. Typos seldom change the first
    letter; without that test "orange" would be offered "triangle"."""
    close = [w for w in difflib.get_close_matches(word, _KNOWN, n=3) if w[0] == word[0]]
    return _shown(word) + (f" (did you mean {close[0]!r}?)" if close else "")


def check_words(text: str) -> list[str]:
    """The prompt's words, or a ``CaptionError`` naming what is wrong and what is accepted."""
    if not isinstance(text, str):
        raise CaptionError(f"a prompt is a string, got {type(text).__name__}")
    if not text.strip():
        raise CaptionError('the prompt is empty; try e.g. "a big red circle in the middle"')
    counting = [w for w in dict.fromkeys(re.findall(r"[a-z]+", text.lower()))
                if w not in VOCABULARY and _counts_shapes(w)]
    if counting:  # the known-word list would not help here: no word of it counts
        raise UnknownWordError(f"{_listed([_shown(w) for w in counting])}: {_ONE_OR_TWO}")
    unknown_chars = sorted(set(re.sub(r"[A-Za-z,:.\s]", "", text)))
    if unknown_chars:
        raise CaptionError(f"the prompt has characters ShapesWorld does not read: {_listed(unknown_chars, 10)} "
                           "(use letters and , : . only)")
    words = tokenize_words(text)
    if len(words) > MAX_WORDS:
        raise CaptionError(f"the prompt has {len(words)} words; at most {MAX_WORDS} are accepted")
    unknown = [w for w in dict.fromkeys(words) if w not in VOCABULARY]
    if unknown:
        spelled = [_spelling(w) for w in unknown]
        known = "" if all("did you mean" in s for s in spelled) else f"; ShapesWorld knows: {' '.join(_KNOWN)}"
        raise UnknownWordError(f"unknown word{'s' if len(unknown) > 1 else ''} {_listed(spelled)}{known}")
    return words


def check_prompts(prompts: Sequence[str]) -> list[str]:
    """The prompts as a list, each one read by ``parse``: what a model's ``sample`` calls first, so an
    empty or unknown prompt (or a lone string where a list belongs) is refused before any slow work."""
    if isinstance(prompts, str):
        raise CaptionError(f"give a list of prompts, e.g. [{prompts!r}], not one string")
    prompts = list(prompts)
    if not prompts:
        raise CaptionError('give at least one prompt, e.g. ["a big red circle in the middle"]')
    for prompt in prompts:
        parse(prompt)
    return prompts


def parse(text: str) -> CaptionSpec:
    """Read a caption into a ``CaptionSpec``; raise ``CaptionError`` with a reason if it cannot.

    A prompt that contradicts itself ("a red blue circle", "at the top at the bottom") or names one
    attribute twice ("a big big circle": very big?) is refused rather than read as its last word, and
    so are two shapes of one colour: ShapesWorld never draws them, so no picture could be right.
    """
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
    objects, positions = _objects_of(words, rest, one_object=relation is None)
    if not objects:
        raise CaptionError(f"the prompt names no shape; name one of: {', '.join(SHAPES)}")
    if len(objects) > 2:
        raise CaptionError(f"the prompt names {len(objects)} shapes; {_ONE_OR_TWO}")

    if relation is None:
        if len(objects) == 2:
            raise CaptionError("two shapes need a relation between them: "
                               + ", ".join(p[0] for p in RELATION_PHRASES.values()))
        obj = objects[0][1]
        if positions:
            obj = dataclasses.replace(obj, cell=_cell_of(obj.shape, positions))
        return CaptionSpec((obj,))

    if len(objects) != 2:
        raise CaptionError(f"the relation {relation!r} needs two shapes, the prompt names {len(objects)}")
    if positions:
        raise CaptionError("a two-shape prompt places the shapes by their relation; leave out "
                           f"the position words ({', '.join(positions)})")
    (i1, first), (i2, second) = objects
    if first.color is not None and first.color == second.color:
        raise CaptionError(f"the prompt names two {first.color} shapes; the two shapes of a scene always differ "
                           'in colour, as in "a red circle above a blue square"')
    if rel_at < i1:  # "above a blue square there is a red circle": the reference comes right after
        subject, reference = second, first
    elif rel_at > i2:  # "a blue square with a red circle above it"
        subject, reference = second, first
    else:  # "a red circle above a blue square"
        subject, reference = first, second
    return CaptionSpec((subject, reference), relation)


def _objects_of(words: list[str], rest: list[tuple[int, str]], one_object: bool):
    """The objects, as (index of the shape word, ObjSpec), and the position words of ``rest`` (the
    words outside the relation). A size or colour belongs to the next shape, before the next article."""
    objects, positions, pending = [], [], []  # pending: (index, word) of attributes waiting for their shape
    for i, w in rest:
        if w in _SIZE_OF or w in _COLOR_OF:
            pending.append((i, w))
        elif w in _SHAPE_OF:
            objects.append((i, _object(w, [a for _, a in pending])))
            pending = []
        elif w in _ARTICLES and pending:
            _refuse_dangling(words, objects, pending, one_object)
        elif w in _VERTICAL or w in _HORIZONTAL or w in _CENTRE:
            positions.append(w)
    if pending:
        _refuse_dangling(words, objects, pending, one_object)
    return objects, positions


def _object(shape_word: str, attributes: list[str]) -> ObjSpec:
    """One shape with the size and colour words in front of it, each named at most once."""
    shape = _SHAPE_OF[shape_word]
    return ObjSpec(shape, _one("colour", shape, [w for w in attributes if w in _COLOR_OF], _COLOR_OF),
                   _one("size", shape, [w for w in attributes if w in _SIZE_OF], _SIZE_OF))


def _one(what: str, shape: str, words: list[str], meaning: dict):
    """What ``words`` say of the ``what`` (colour, size, position) of ``shape``, or None if they say
    nothing; two different values, or one said twice, are refused."""
    values = {meaning[w] for w in words}
    if len(values) > 1:
        raise CaptionError(f"the prompt names two {what}s for the {shape} ({', '.join(words)}): name one")
    if len(words) > 1:
        raise CaptionError(f"the prompt names the {what} of the {shape} twice ({', '.join(words)}): name it once")
    return next(iter(values), None)


def _refuse_dangling(words, objects, pending, one_object: bool):
    """Refuse sizes and colours with no shape after them. Right after a shape or after "is" ("the
    circle is red"), say the prompt in the grammar's order: it is not read the other way because the
    models learned from captions in that order only."""
    i = pending[0][0]
    if one_object and objects and (words[i - 1] == "is" or words[i - 1] in _SHAPE_OF):
        at, spec = objects[-1]
        named = [w for w in (spec.size, spec.color) if w] + [w for _, w in pending]
        whole = _object(words[at], named)  # "the red circle is blue" is refused for its two colours
        said = " ".join(w for w in (whole.size, whole.color) if w)
        raise CaptionError(f'say "a {said} {words[at]}": ShapesWorld names the size and colour before the '
                           'shape, as in "a big red circle in the top left"')
    raise CaptionError(f"a size or colour is not followed by a shape; name one of: {', '.join(SHAPES)}")


def _cell_of(shape: str, words: list[str]) -> int:
    """Grid cell from position words: "top"/"upper"/"bottom"/"lower" pick the row, "left"/"right"
    the column, and whatever is not named is the middle ("at the top" is the top middle). A row or
    column named twice, or the middle with both, is refused."""
    row = _one("position", shape, [w for w in words if w in _VERTICAL], _VERTICAL)
    col = _one("position", shape, [w for w in words if w in _HORIZONTAL], _HORIZONTAL)
    centre = _one("position", shape, [w for w in words if w in _CENTRE], dict.fromkeys(_CENTRE, 1))
    if centre is not None and row is not None and col is not None:
        raise CaptionError(f"the prompt names two positions for the {shape} ({', '.join(words)}): name one")
    return (1 if row is None else row) * 3 + (1 if col is None else col)


def spec_of_scene(scene: Scene) -> CaptionSpec:
    """The complete spec of a scene: what its canonical caption says."""
    return parse(describe(scene))

import random

import pytest

from course_lib import captions, oracle, shapes
from course_lib.captions import CaptionError, ObjSpec, UnknownWordError


def test_every_varied_caption_parses_back_to_its_scene():
    rng = random.Random(0)
    for scene in shapes.sample_scenes(2000, seed=5, kind="mixed"):
        caption = captions.describe(scene, rng)
        assert oracle.matches(scene, captions.parse(caption)), caption


def test_grammar_varies_words_and_order():
    rng = random.Random(1)
    scene = shapes.sample_scenes(1, kind="two")[0]
    variants = {captions.describe(scene, rng) for _ in range(200)}
    assert len(variants) > 30
    starts = {v.split()[0] for v in variants}
    assert {"a", "there"} <= starts and len(starts) >= 4  # "above ...", "to the left of ..." too


def test_canonical_caption_names_everything():
    scene = shapes.Scene((shapes.Obj("circle", "red", "big", 1), shapes.Obj("square", "blue", "small", 4)))
    assert captions.describe(scene) == "a big red circle above a small blue square"
    assert captions.parse(captions.describe(scene)).relation == "above"


@pytest.mark.parametrize("text, subject, relation", [
    ("a red circle above a blue square", "circle", "above"),
    ("above a blue square there is a red circle", "circle", "above"),
    ("a blue square with a red circle on top of it", "circle", "above"),
    ("a tiny violet rhombus to the left of a green box", "diamond", "left of"),
])
def test_relations_name_the_right_subject(text, subject, relation):
    spec = captions.parse(text)
    assert spec.objects[0].shape == subject and spec.relation == relation


def test_one_object_positions():
    assert captions.parse("top right: a large cyan disc").objects[0] == ObjSpec("circle", "cyan", "big", 2)
    assert captions.parse("a yellow triangle at the bottom").objects[0].cell == 7
    assert captions.parse("a yellow triangle in the middle").objects[0].cell == 4
    assert captions.parse("a yellow triangle").objects[0].cell is None


@pytest.mark.parametrize("text, message", [
    ("", "the prompt is empty"),
    ("   ", "the prompt is empty"),
    ("a red dog in the middle", "unknown word 'dog'; ShapesWorld knows: "),
    ("a red circle!", "characters ShapesWorld does not read: !"),
    ("a red " * 20 + "circle", "at most 24 are accepted"),
    ("a red in the middle", "not followed by a shape"),
    ("in the middle", "names no shape"),
    ("a red circle a blue square", "need a relation"),
    ("a red circle above a blue square above a green diamond", "more than one relation"),
    ("a red circle above", "needs two shapes"),
])
def test_bad_prompts_say_what_is_wrong(text, message):
    with pytest.raises(CaptionError, match=message):
        captions.parse(text)


def test_unknown_word_lists_the_vocabulary():
    with pytest.raises(UnknownWordError) as info:
        captions.parse("a purple elephant")
    assert "circle" in str(info.value) and "violet" in str(info.value)

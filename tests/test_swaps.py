"""The attribute-swap counter (course_lib.swaps) on hand-made scenes: each swap counted as its kind,
a right scene and other mistakes not counted, and the swapped captions and CLIP's check."""
import pytest

from course_lib import captions, clip, swaps
from course_lib.shapes import Obj, Scene, render

PROMPT = "a red circle to the left of a blue square"
SPEC = captions.parse(PROMPT)


def scene(left: tuple[str, str], right: tuple[str, str]) -> Scene:
    """Two big objects in the middle row: ``left`` (shape, colour) in the left cell, ``right`` in the right."""
    return Scene((Obj(left[0], left[1], "big", 3), Obj(right[0], right[1], "big", 5)))


@pytest.mark.parametrize("left, right, kind", [
    (("circle", "red"), ("square", "blue"), None),  # right
    (("circle", "blue"), ("square", "red"), "colour"),  # the shapes in place, the colours exchanged
    (("square", "red"), ("circle", "blue"), "shape"),  # the colours in place, the shapes exchanged
    (("square", "blue"), ("circle", "red"), "position"),  # both right, each in the other's place
    (("circle", "red"), ("square", "green"), None),  # a wrong colour that is nobody's is no swap
    (("triangle", "red"), ("square", "blue"), None),  # nor a wrong shape
    (("circle", "blue"), ("square", "green"), None),  # one colour moved, the other lost: no swap either
])
def test_each_swap_is_counted_as_its_kind_and_nothing_else_is(left, right, kind):
    assert swaps.swap_kind(scene(left, right), SPEC) == kind


def test_the_object_order_in_the_scene_does_not_matter():
    a, b = scene(("circle", "blue"), ("square", "red")).objects
    assert swaps.swap_kind(Scene((b, a)), SPEC) == "colour"


def test_objects_in_another_relation_or_a_missing_object_are_no_swap():
    stacked = Scene((Obj("circle", "blue", "big", 1), Obj("square", "red", "big", 4)))  # above, not left of
    assert swaps.swap_kind(stacked, SPEC) is None
    assert swaps.swap_kind(Scene((Obj("circle", "red", "big", 3),)), SPEC) is None
    assert swaps.swap_kind(None, SPEC) is None


def test_swap_rates_read_pictures_with_the_oracle():
    pictures = render([scene(("circle", "blue"), ("square", "red")), scene(("circle", "red"), ("square", "blue")),
                       scene(("square", "blue"), ("circle", "red")), scene(("square", "red"), ("circle", "blue"))])
    rates = swaps.swap_rates(pictures, [PROMPT] * 4)
    assert rates == {"swap_colour": 0.25, "swap_shape": 0.25, "swap_position": 0.25}
    with pytest.raises(ValueError, match="2 pictures but 1 captions"):
        swaps.swap_rates(pictures[:2], [PROMPT])


def test_swapped_captions_parse_back_to_the_swapped_scenes():
    swapped = swaps.swapped_captions(PROMPT)
    assert swapped == {"colour": "a blue circle to the left of a red square",
                       "shape": "a red square to the left of a blue circle",
                       "position": "a blue square to the left of a red circle"}
    for kind, caption in swapped.items():  # the right picture of the prompt reads as that swap of each
        assert swaps.swap_kind(scene(("circle", "red"), ("square", "blue")), captions.parse(caption)) == kind
    assert set(swaps.swapped_captions("a red circle above a blue circle")) == {"colour", "position"}
    with pytest.raises(ValueError, match="names one object"):
        swaps.swapped_captions("a red circle")


def test_clip_prefers_right_is_a_share_per_swap_kind():
    model = clip.ShapesCLIP.from_checkpoint("clip")
    pictures = render([scene(("circle", "red"), ("square", "blue"))] * 2)
    shares = swaps.clip_prefers_right(model, pictures, [PROMPT, "a red circle to the left of a blue circle"])
    assert set(shares) == {"prefers_right_colour", "prefers_right_shape", "prefers_right_position"}
    assert all(0 <= v <= 1 for v in shares.values())

import pytest
import torch

from course_lib import shapes
from course_lib.shapes import HELDOUT_PAIRS, Obj, Scene


def test_same_seed_same_scenes_and_pictures():
    a, b = shapes.sample_scenes(50, seed=3), shapes.sample_scenes(50, seed=3)
    assert a == b
    assert torch.equal(shapes.render(a), shapes.render(b))
    assert shapes.sample_scenes(50, seed=4) != a


@pytest.mark.parametrize("resolution", shapes.RESOLUTIONS)
def test_render_shape_range_and_background(resolution):
    images = shapes.render(shapes.sample_scenes(8, seed=0), resolution)
    assert images.shape == (8, 3, resolution, resolution) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert (images.sum(1) == 0).float().mean() > 0.7  # mostly black background


def test_kinds_and_mixed_alternate():
    assert all(s.kind == "one" for s in shapes.sample_scenes(20, kind="one"))
    assert all(s.kind == "two" for s in shapes.sample_scenes(20, kind="two"))
    assert [s.kind for s in shapes.sample_scenes(4, kind="mixed")] == ["one", "two", "one", "two"]


def test_heldout_split_is_disjoint_from_training():
    train = shapes.sample_scenes(4000, seed=1, split="train")
    held = shapes.sample_scenes(500, seed=1, split="heldout")
    assert not any(s.is_heldout for s in train)
    assert all(s.is_heldout for s in held)
    assert not any((o.color, o.shape) in HELDOUT_PAIRS for s in train for o in s.objects)
    # both kinds of held-out combination occur: a held-out pair, and a held-out relation of seen objects
    assert any(all((o.color, o.shape) not in HELDOUT_PAIRS for o in s.objects) for s in held)
    assert any(any((o.color, o.shape) in HELDOUT_PAIRS for o in s.objects) for s in held)


def test_two_object_scenes_are_in_a_relation_with_different_colours():
    for s in shapes.sample_scenes(300, seed=2, kind="two"):
        a, b = s.objects
        assert a.color != b.color and s.relation in shapes.RELATIONS


def test_all_one_object_scenes():
    assert len(shapes.all_one_object_scenes()) == 432
    assert len(shapes.all_one_object_scenes("heldout")) == len(HELDOUT_PAIRS) * 2 * 9


@pytest.mark.parametrize("kwargs, message", [
    (dict(shape="hexagon", color="red", size="big", cell=0), "unknown shape 'hexagon'; known: circle"),
    (dict(shape="circle", color="pink", size="big", cell=0), "unknown color 'pink'"),
    (dict(shape="circle", color="red", size="huge", cell=0), "unknown size 'huge'"),
    (dict(shape="circle", color="red", size="big", cell=9), "cell must be an integer 0..8"),
])
def test_bad_object_attributes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Obj(**kwargs)


def test_bad_scenes_and_arguments():
    with pytest.raises(ValueError, match="different colours"):
        Scene((Obj("circle", "red", "big", 0), Obj("square", "red", "big", 1)))
    with pytest.raises(ValueError, match="share a row"):
        Scene((Obj("circle", "red", "big", 0), Obj("square", "blue", "big", 4)))
    with pytest.raises(ValueError, match="unknown split"):
        shapes.sample_scenes(3, split="test")
    with pytest.raises(ValueError, match="unknown kind"):
        shapes.sample_scenes(3, kind="three")
    with pytest.raises(ValueError, match="non-negative integer"):
        shapes.sample_scenes(-1)
    with pytest.raises(ValueError, match="resolution must be one of"):
        shapes.render(shapes.sample_scenes(1), 48)
    with pytest.raises(TypeError, match="Scene objects"):
        shapes.render(["a red circle"])

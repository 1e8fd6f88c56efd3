"""The Draw box of notebooks 02 and 09 without a browser: seeds, the busy state, one-line errors.

tests/test_browser.py presses the same box in JupyterLab and looks at the grid it draws.
"""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("ipywidgets")

from course_lib import captions, draw_box  # noqa: E402
from course_lib.draw_box import BUSY_LABEL, DRAW_LABEL, DrawBox, one_line  # noqa: E402


class Recorder:
    """A drawing that records what it was asked for and can be told to fail."""

    def __init__(self, error=None):
        self.calls, self.error = [], error

    def __call__(self, prompt, seed):
        self.calls.append((prompt, seed))
        if self.error is not None:
            raise self.error
        return plt.figure()


def test_each_press_draws_new_candidates_and_says_the_seed_that_repeats_them():
    drawing = Recorder()
    box = DrawBox(drawing, "a red circle", seed=5)
    assert box.press() and box.press()
    assert drawing.calls == [("a red circle", 5), ("a red circle", 6)]
    assert box.seed.value == 7
    assert "seed 6 drew this grid" in box.message.value and "type 6 in Seed" in box.message.value
    box.seed.value = 5  # a learner types a seed back
    box.press()
    assert drawing.calls[-1] == ("a red circle", 5)


def test_an_unknown_word_is_one_line_in_the_box_and_keeps_the_seed():
    with pytest.raises(captions.CaptionError) as caught:
        captions.parse("a pink circle")
    box = DrawBox(Recorder(caught.value), "a pink circle", seed=3)
    assert not box.press()
    assert "Cannot draw that: unknown word &#x27;pink&#x27;" in box.message.value
    assert "\n" not in box.message.value and "Error" not in box.message.value
    assert box.seed.value == 3, "nothing was drawn, so the same seed draws next time"
    assert not box.button.disabled and box.button.description == DRAW_LABEL


def test_any_error_in_the_drawing_shows_with_its_type_and_frees_the_button():
    box = DrawBox(Recorder(RuntimeError("CUDA out of\nmemory")), "a red circle")
    assert not box.press()
    assert "Cannot draw that: RuntimeError: CUDA out of memory" in box.message.value
    assert not box.button.disabled and box.button.description == DRAW_LABEL


def test_a_press_while_drawing_is_ignored():
    box = DrawBox(Recorder(), "a red circle")

    def draw_and_press_again(prompt, seed):
        assert box.button.disabled and box.button.description == BUSY_LABEL
        assert not box.press(), "a second press while drawing starts nothing"
        return plt.figure()

    box.draw = draw_and_press_again
    assert box.press()
    assert box.seed.value == 1


def test_one_line_flattens_messages():
    assert one_line(ValueError("two\n  lines")) == "ValueError: two lines"


def test_a_click_queued_during_a_drawing_is_dropped_and_a_later_click_draws(monkeypatch):
    drawing = Recorder()
    box = DrawBox(drawing, "a red circle")
    now = SimpleNamespace(monotonic=iter([99.0, 100.0, 100.1]).__next__)  # click, drawing ends, queued click
    monkeypatch.setattr(draw_box, "time", now)
    box.button.click()  # the kernel handles the first click ...
    box.button.click()  # ... then the one sent while it drew: dropped
    assert drawing.calls == [("a red circle", 0)]
    now.monotonic = lambda: 101.0  # a second later, a learner clicks again
    box.button.click()
    assert drawing.calls == [("a red circle", 0), ("a red circle", 1)]

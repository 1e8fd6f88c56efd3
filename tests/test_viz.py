import matplotlib
import pytest
import torch

from course_lib import viz

matplotlib.use("Agg")

LONG = "a big yellow diamond to the right of a big purple diamond"  # wraps to three lines


@pytest.mark.parametrize("title", ["#1 score 90.71", LONG])
def test_titles_stay_inside_the_figure_and_off_the_pictures_above(title):
    fig = viz.show_images(torch.rand(8, 3, 32, 32), [title] * 8, nrow=4, scale=1.5, suptitle="grid")
    fig.canvas.draw()  # lays the pictures out at their final aspect
    renderer = fig.canvas.get_renderer()
    axes = fig.axes
    assert viz._wrap(LONG).count("\n") == 2
    for ax in axes:
        box = ax.title.get_window_extent(renderer)
        assert box.y1 <= fig.bbox.y1 and box.y0 >= 0, f"title {title!r} is cut off at the figure's edge"
    for upper, lower in zip(axes[:4], axes[4:]):  # a title of the second row against the picture above it
        assert lower.title.get_window_extent(renderer).y1 <= upper.get_window_extent(renderer).y0 + 1, \
            f"title {title!r} overlaps the picture above it"


def test_the_figure_title_stays_above_four_line_titles():
    reason = "no valid scene: the red pixels fit no shape (best circle, IoU 0.41 < 0.55)"  # notebook 01's reasons
    assert viz._wrap(reason).count("\n") == 3
    titles = ["no valid scene: no coloured shape found", reason] * 4  # as notebook 01 shows them
    fig = viz.show_images(torch.rand(8, 3, 32, 32), titles, nrow=8, suptitle="what the oracle reads")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top = fig._suptitle.get_window_extent(renderer)
    assert top.y1 <= fig.bbox.y1, "the figure's title is cut off"
    for ax in fig.axes[:8]:
        assert ax.title.get_window_extent(renderer).y1 <= top.y0 + 1, "a picture's title runs into the figure's title"

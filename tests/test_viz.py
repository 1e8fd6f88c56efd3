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

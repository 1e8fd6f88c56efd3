"""The Draw box of notebooks 02 and 09: a prompt, a seed, a Draw button and the grid it draws.

One widget for both notebooks, because what an attendee needs from it is the same in both and was
found missing in a real browser (issue #28):
- each press draws new candidates: the seed goes up by one after every drawing, and the line under
  the box says which seed drew the grid, so a learner can type it back to repeat that grid;
- while a drawing runs the button says so and cannot be pressed; the new grid replaces the old one,
  so two quick presses leave one grid. The kernel reads one message at a time, so a click sent while
  a drawing runs waits in its queue and arrives just after the drawing ends, when the button is free
  again: a click that arrives within ``QUEUED_CLICK_SECONDS`` of the end of a press's work was made
  during it, and is dropped;
- a prompt the grammar does not know, or any error inside the drawing, shows as one line in the box
  itself (an exception in a widget callback otherwise goes to a log the attendee never sees), in
  place of the grid.

The drawing itself is the notebook's: ``draw(prompt, seed)`` returns a matplotlib figure.
"""
from __future__ import annotations

import html
import time
from typing import Callable

from .captions import CaptionError

BUSY_LABEL = "Drawing…"
DRAW_LABEL = "Draw"
QUEUED_CLICK_SECONDS = 0.25  # quicker than anyone sees a new grid and clicks again


def one_line(error: BaseException) -> str:
    """An error as the one line the box shows: the grammar's message as it is, others with their type."""
    text = " ".join(str(error).split())
    return text if isinstance(error, CaptionError) else f"{type(error).__name__}: {text}"


class DrawBox:
    """A prompt box with a Draw button; ``display(box.view)`` shows it, ``box.press()`` presses it.

    ``draw(prompt, seed) -> matplotlib.figure.Figure`` makes the picture; ``controls`` are further
    widgets shown beside the seed (e.g. a slider for the number of candidates that ``draw`` reads).
    """

    def __init__(self, draw: Callable, prompt: str, *, seed: int = 0, label: str = "Prompt",
                 controls: tuple = ()):
        import ipywidgets as widgets

        self.draw = draw
        self.prompt = widgets.Text(value=prompt, description=label, layout=widgets.Layout(width="460px"))
        self.seed = widgets.IntText(value=seed, description="Seed", layout=widgets.Layout(width="160px"))
        self.button = widgets.Button(description=DRAW_LABEL, button_style="primary")
        self.message = widgets.HTML()  # one line: which seed drew the grid, or why nothing was drawn
        self.output = widgets.Output()
        self.finished_at = float("-inf")  # time.monotonic() when the last press's work (grid shown) ended
        self.button.on_click(self._clicked)
        self.view = widgets.VBox([widgets.HBox([self.prompt, self.button]),
                                  widgets.HBox([self.seed, *controls]), self.message, self.output])
        self.view.add_class("draw-box")  # how the browser test (and a learner's CSS) finds it

    def press(self) -> bool:
        """Draw the prompt with the current seed, then advance the seed; True when a grid was drawn."""
        if self.button.disabled:  # a drawing is already running
            return False
        prompt, seed = self.prompt.value, int(self.seed.value)
        self.button.disabled, self.button.description = True, BUSY_LABEL
        self._say(f"drawing '{prompt}' with seed {seed}…")
        try:
            figure = self.draw(prompt, seed)
        except Exception as error:  # shown in the box, not lost in a log
            self.output.clear_output()  # the grid below is never of another prompt
            self._say(f"Cannot draw that: {one_line(error)}", error=True)
            return False
        finally:
            self.button.disabled, self.button.description = False, DRAW_LABEL
        self._show(figure)
        self.seed.value = seed + 1
        self._say(f"seed {seed} drew this grid (type {seed} in Seed to draw it again); "
                  f"the next press draws new candidates")
        return True

    def _clicked(self, _button) -> bool:
        """The button's handler: a press, unless the click was queued while the last drawing ran."""
        if time.monotonic() - self.finished_at < QUEUED_CLICK_SECONDS:
            return False
        try:
            return self.press()
        finally:  # after the grid is shown: showing it takes a while too
            self.finished_at = time.monotonic()

    def _show(self, figure) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.output.clear_output(wait=True)
        with self.output:
            display(figure)
        plt.close(figure)  # shown once, in the box, not again under the cell

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#444"
        self.message.value = f'<span class="draw-box-message" style="color:{colour}">{html.escape(text)}</span>'

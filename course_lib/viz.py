"""Pictures for the notebooks: image grids with captions and scores, and loss curves."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch


def to_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> one (3, H', W') picture, ``nrow`` pictures per row."""
    from torchvision.utils import make_grid

    return make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=0.5)


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, *, nrow: int = 8,
                scale: float = 1.2, suptitle: str | None = None, title_size: float = 7):
    """Draw pictures in a grid; with ``titles``, each picture gets its own small title (caption, score).

    ``title_size`` is in points at the figure's size; a notebook shrinks a figure wider than its
    column, so a grid shown at the column's width (the Draw box's) needs fewer columns, not a
    smaller font.

    Returns the matplotlib figure (a notebook shows it; a script can ``fig.savefig(...)``).
    """
    import matplotlib.pyplot as plt

    images = images.detach().float().cpu().clamp(0, 1)
    if titles is None:
        fig, ax = plt.subplots(figsize=(scale * nrow, scale * ((len(images) + nrow - 1) // nrow)))
        ax.imshow(to_grid(images, nrow).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.axis("off")
    else:
        if len(titles) != len(images):
            raise ValueError(f"{len(images)} pictures but {len(titles)} titles")
        titles = [_wrap(t) for t in titles]
        lines = max(t.count("\n") + 1 for t in titles)  # room above each picture for its longest title
        cols = min(nrow, len(images))
        rows = (len(images) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(scale * 1.6 * cols, scale * (1.75 + 0.15 * lines) * rows),
                                 squeeze=False, layout="constrained")  # keeps titles clear of the suptitle
        for ax in axes.flat:
            ax.axis("off")
            ax.set(xticks=[], yticks=[])  # no ticks to lay out: a saved grid is ~0.3 s faster
        for ax, image, title in zip(axes.flat, images, titles):
            ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_title(title, fontsize=title_size)
    if suptitle:
        fig.suptitle(suptitle)
    if titles is None:
        fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 22) -> str:
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def plot_losses(losses: Mapping[str, Sequence[float]], *, smooth: int = 20, title: str = "training losses"):
    """Loss curves (a moving average over ``smooth`` steps), one line per loss; returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, values in losses.items():
        values = torch.tensor(values, dtype=torch.float32)
        if len(values) >= smooth > 1:
            values = torch.nn.functional.avg_pool1d(values[None, None], smooth, stride=1)[0, 0]
        ax.plot(values.numpy(), label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_latent_map(points, scenes, *, title: str = "latent map"):
    """A 2-D latent space: each picture's code (N, 2) as a dot, coloured by shape (left) and by its
    own colour (right). ``scenes`` are the one-object scenes the points were encoded from."""
    import matplotlib.pyplot as plt

    from .shapes import COLORS, SHAPES

    points = torch.as_tensor(points).detach().float().cpu()
    shape_colours = dict(zip(SHAPES, ("tab:blue", "tab:orange", "tab:green", "tab:pink")))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, key, palette in ((axes[0], "shape", shape_colours), (axes[1], "color", COLORS)):
        for value, colour in palette.items():
            mask = torch.tensor([getattr(s.objects[0], key) == value for s in scenes])
            ax.scatter(points[mask, 0], points[mask, 1], s=6, color=colour, label=value)
        ax.set_facecolor("0.15" if key == "color" else "white")
        ax.set_title(f"{title}: coloured by {key}")
        ax.legend(markerscale=2, fontsize=7, loc="best")
    fig.tight_layout()
    return fig

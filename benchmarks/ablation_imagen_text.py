"""Imagen's finding at ShapesWorld scale: does the frozen text encoder matter more than the U-Net?

Saharia et al. (2022) found that a bigger frozen text encoder improved Imagen's pictures more than a
bigger U-Net. Four arms, each the shipped Imagen recipe (``imagen.preset("full")``: notebook 12's
U-Net, GLIDE's training) for the same ``--steps`` on the same data, seed and batches; only the frozen
caption encoder, or the U-Net's width, changes:

- CLIP's text tower (trained on pictures and captions, notebook 08);
- BART's encoder (trained to translate captions into image tokens, notebook 07): Imagen's kind of choice;
- a CLIP-shaped tower with random weights: the floor, an encoder that knows nothing of captions;
- BART's encoder with a U-Net of half the width (about a quarter of its weights): the image model shrunk.

Measured by ``glide.evaluate``: the oracle's caption accuracy of one sample per prompt at the default
guidance, on ``--prompts`` canonical prompts of each split and kind.

    python -m benchmarks.ablation_imagen_text              # ~37 min on one thread of the 2-core CPU
    python -m benchmarks.ablation_imagen_text --steps 5    # a quick try (not saved unless --save)
"""
from __future__ import annotations

from course_lib import imagen

from .ablation_glide_text import compare

STEPS = 4000
PROMPTS = 200
ARMS = {"CLIP text tower": {"text": "clip"}, "BART encoder": {"text": "bart"},
        "random tower": {"text": "random"}, "BART encoder, half-width U-Net": {"text": "bart", "channels": (16, 32)}}


def main(argv: list[str] | None = None) -> None:
    compare(argv, "imagen_text", "Which matters more: the frozen text encoder or the U-Net's size?", ARMS,
            imagen.preset, "full", STEPS, PROMPTS, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()

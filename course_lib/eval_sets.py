"""The fixed sets every stage is measured on, each drawn with its own named seed.

A figure means something only if the next run measures the same prompts and pictures: the shipped
checkpoints' JSON, ``python -m course_lib train`` and ``benchmarks.run`` all read their measurement
sets from here. No seed below is one a preset trains on (training data uses ``training.seed``, 0 by
default), so every set is unseen pictures of the split it names.

Prompts come in two forms (issue #20): canonical captions that name everything ("a big red circle in
the top left corner"), and partial ones as people type them ("a red circle"), which leave size,
position or both open as ``PARTIAL_OPEN`` says in turn.
"""
from __future__ import annotations

from . import captions, shapes

PROMPT_SEED = 99  # scenes whose captions measure bart, the pipeline and the benchmarks' prompt sets
TEXT_GAN_SEED = 1  # scenes and noise of text_gan.evaluate (one sample per prompt)
GAN_NOISE_SEED = 1  # noise of the samples gan.evaluate judges
AUTOENCODER_SEED = 1  # prior and box samples of autoencoder.evaluate; its pictures use AUTOENCODER_SEED + 1000
TEST_PICTURES_SEED = 12345  # mixed scenes the image tokenizers reconstruct (vqvae.test_images)
ZERO_SHOT_SEED = 4321  # one-object pictures CLIP classifies zero-shot
RETRIEVAL_SEED = 2000  # first gallery of CLIP's text -> picture retrieval; gallery g uses RETRIEVAL_SEED + g

SPLIT_TAGS = {"train": "seen", "heldout": "heldout"}  # split -> the word figures use for it

# What partial prompts leave open, in turn: people type "a red circle" before they type "a big red
# circle in the top left corner". Two-object prompts place by the relation, so only size can go.
PARTIAL_OPEN = {"one": (("size",), ("position",), ("size", "position")), "two": (("size",),)}


def prompts(n: int, split: str = "train", kind: str = "one", *, partial: bool = False,
            seed: int = PROMPT_SEED) -> list[str]:
    """Captions of ``n`` scenes of a split ("train": seen combinations, "heldout": never seen) and kind
    ("one" or "two" objects): canonical, or with ``partial`` the same scenes with size and position
    left open as ``PARTIAL_OPEN`` says."""
    scenes = shapes.sample_scenes(n, seed=seed, split=split, kind=kind)
    if not partial:
        return [captions.describe(s) for s in scenes]
    choices = PARTIAL_OPEN[kind]
    return [captions.describe(s, leave_open=choices[i % len(choices)]) for i, s in enumerate(scenes)]

"""Where the course's files are, in one place: the data shipped inside the package.

``DATA_DIR`` (``course_lib/data``) holds the shipped checkpoints and the caption tokenizer; it comes
with every install, editable or not, on Colab too, so nothing here points outside the package.
"""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

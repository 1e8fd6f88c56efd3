"""Where the course's files are, in one place: the data shipped inside the package.

``DATA_DIR`` (``course_lib/data``) holds the shipped checkpoints and the caption tokenizer; it comes
with every install, editable or not, on Colab too, so nothing here points outside the package.

``IMPORT_ROOT`` is the folder that holds the ``course_lib`` package itself: the checkout's root in an
editable install, ``site-packages`` in a plain ``pip install .`` (Colab). Putting it on a child
process's ``PYTHONPATH`` makes the child import this very ``course_lib``.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # course_lib/, wherever it is installed
DATA_DIR = PACKAGE_DIR / "data"
IMPORT_ROOT = PACKAGE_DIR.parent  # the folder that holds course_lib/ (a checkout, or site-packages)

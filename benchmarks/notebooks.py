"""Wall time of every notebook executed headless (nbclient), from a clean kernel, in workshop mode.

The figure a workshop attendee cares about: how long "Run all" takes on their machine. The kernel
inherits the environment set here: ``COURSE_MODE=workshop``, offline Hugging Face, a non-interactive
matplotlib backend and, for ``--device cpu``, no visible GPU.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .timing import seconds

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
TIMEOUT = 1800  # seconds one cell may run before the notebook counts as failed


@contextlib.contextmanager
def _environment(mode: str, device: str) -> Iterator[None]:
    """Set the variables the kernel inherits, and put the old values back afterwards."""
    changes = {"COURSE_MODE": mode, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "MPLBACKEND": "module://matplotlib_inline.backend_inline",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(NOTEBOOK_DIR.parent), os.environ.get("PYTHONPATH")]))}
    if device == "cpu":
        changes["CUDA_VISIBLE_DEVICES"] = ""
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def time_notebook(path: Path, mode: str = "workshop", device: str = "cpu") -> float:
    """Seconds to execute notebook ``path`` top to bottom; raises nbclient's ``CellExecutionError`` on failure."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with _environment(mode, device):
        return seconds(client.execute)[0]


def time_notebooks(paths: list[Path], mode: str = "workshop", device: str = "cpu") -> tuple[dict[str, float], list[str]]:
    """Time each notebook; returns ({stem: seconds} of those that ran, stems of those that failed)."""
    timings, failed = {}, []
    for path in paths:
        print(f"notebook {path.stem}: running in {mode} mode ...", flush=True)
        try:
            timings[path.stem] = time_notebook(path, mode, device)
        except Exception as error:  # a failing notebook is reported and the others still run
            print(f"notebook {path.stem}: failed: {str(error).strip().splitlines()[-1]}")
            failed.append(path.stem)
            continue
        print(f"notebook {path.stem}: {timings[path.stem]:.0f} s")
    return timings, failed

"""Wall time of every notebook executed headless (nbclient), from a clean kernel, in workshop mode.

The figure a workshop attendee cares about: how long "Run all" takes on their machine. The kernel
inherits the environment set here: ``COURSE_MODE=workshop``, offline Hugging Face, a non-interactive
matplotlib backend and, for ``--device cpu``, no visible GPU.
"""
from __future__ import annotations

from pathlib import Path

from course_lib.kernels import execute

from .timing import seconds

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
TIMEOUT = 1800  # seconds one cell may run before the notebook counts as failed


def time_notebook(path: Path, mode: str = "workshop", device: str = "cpu"):
    """(seconds to execute notebook ``path`` top to bottom, the executed notebook with its outputs);
    raises nbclient's ``CellExecutionError`` on failure."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if device == "cpu":
        offline["CUDA_VISIBLE_DEVICES"] = ""  # no visible GPU
    return seconds(lambda: execute(notebook, path.parent, mode=mode, timeout=TIMEOUT, name=path.name, **offline))


def time_notebooks(paths: list[Path], mode: str = "workshop", device: str = "cpu",
                   executed: dict | None = None) -> tuple[dict[str, float], list[str]]:
    """Time each notebook; returns ({stem: seconds} of those that ran, stems of those that failed).
    ``executed``, if given, receives {stem: the executed notebook} (for the rendered edition)."""
    timings, failed = {}, []
    for path in paths:
        print(f"notebook {path.stem}: running in {mode} mode ...", flush=True)
        try:
            timings[path.stem], notebook = time_notebook(path, mode, device)
            if executed is not None:
                executed[path.stem] = notebook
        except Exception as error:  # a failing notebook is reported and the others still run
            lines = str(error).strip().splitlines()  # a dead kernel can surface as an error with no message
            print(f"notebook {path.stem}: failed: {lines[-1] if lines else type(error).__name__}")
            failed.append(path.stem)
            continue
        print(f"notebook {path.stem}: {timings[path.stem]:.0f} s")
    return timings, failed

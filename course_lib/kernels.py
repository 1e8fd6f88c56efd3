"""Run a notebook headless, from a clean kernel, the way the tests, the grader and the benchmarks do.

A kernel started by nbclient inherits this process's environment, so the course mode and the rest
are set here for the duration of the run and put back afterwards: ``COURSE_MODE``, an inline
matplotlib backend (no window), and the folder that holds this ``course_lib`` (``paths.IMPORT_ROOT``:
the checkout in an editable install, ``site-packages`` in a plain one) first on ``PYTHONPATH``, so the
kernel imports the same ``course_lib`` as this process, not some other install or checkout.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .paths import IMPORT_ROOT

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@contextlib.contextmanager
def kernel_environment(mode: str, **extra: str) -> Iterator[None]:
    """Within the block, kernels start with ``COURSE_MODE=mode``, the inline backend, this course_lib
    importable, and the ``extra`` variables; the old values (or their absence) come back after."""
    changes = {"COURSE_MODE": mode, "MPLBACKEND": INLINE_BACKEND,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(IMPORT_ROOT), os.environ.get("PYTHONPATH")])),
               **extra}
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


def execute(nb, cwd: str | Path, *, mode: str = "smoke", timeout: int = 600, allow_errors: bool = False, **extra: str):
    """Run notebook ``nb`` (changed in place: outputs added) in a fresh python3 kernel started in
    ``cwd``, within ``kernel_environment(mode, **extra)``. Without ``allow_errors`` the first failing
    cell raises nbclient's ``CellExecutionError``, naming the cell; with it, every cell runs and the
    errors stay in the outputs. Returns ``nb``."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd)}})
    with kernel_environment(mode, **extra):
        client.execute()
    return nb

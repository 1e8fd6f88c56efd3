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

# torch's Linux wheels parallelise with GNU OpenMP, whose idle threads spin 300,000 times at each barrier
# before they sleep. When another process wants a core, a spinning thread holds it while the thread it
# waits for is descheduled, and torch's many small operations wait at a barrier each. Notebook 09 in smoke
# mode, beside one busy loop on this 2-core machine: over 360 s with the default count (twice), 19-21 s
# with 1,000, and 13-14 s on a quiet machine with either count (kernels.execute timed by hand, 2026-12-04).
GOMP_SPINCOUNT = "1000"


@contextlib.contextmanager
def kernel_environment(mode: str, **extra: str) -> Iterator[None]:
    """Within the block, kernels start with ``COURSE_MODE=mode``, the inline backend, this course_lib
    importable, OpenMP threads that stop spinning soon (``GOMP_SPINCOUNT``, unless already set), and
    the ``extra`` variables; the old values (or their absence) come back after."""
    changes = {"COURSE_MODE": mode, "MPLBACKEND": INLINE_BACKEND,
               "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT", GOMP_SPINCOUNT),
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


CELL_SECONDS = {"smoke": 180, "workshop": 1800, "full": 6 * 3600}  # the longest one cell may run, by mode
START_SECONDS = 60  # the longest a kernel may take to start and answer


class NotebookTimeout(TimeoutError):
    """A notebook's kernel did not start in time, or one of its cells ran past its time: one line that
    says which notebook and which cell, so that a stalled kernel fails a run quickly and clearly."""


def execute(nb, cwd: str | Path, *, mode: str = "smoke", timeout: int | None = None, allow_errors: bool = False,
            name: str | None = None, **extra: str):
    """Run notebook ``nb`` (changed in place: outputs added) in a fresh python3 kernel started in
    ``cwd``, within ``kernel_environment(mode, **extra)``. Without ``allow_errors`` the first failing
    cell raises nbclient's ``CellExecutionError``, naming the cell; with it, every cell runs and the
    errors stay in the outputs. A cell running past ``timeout`` seconds (``CELL_SECONDS[mode]`` by
    default), or a kernel silent for ``START_SECONDS`` at its start, raises ``NotebookTimeout`` naming
    ``name`` (the notebook; by default the folder it runs in) and the cell. Returns ``nb``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    from .kernel_client import RecheckingKernelManager

    timeout, name = timeout or CELL_SECONDS[mode], name or f"the notebook in {cwd}"
    running: dict[str, int] = {}
    client = NotebookClient(nb, timeout=timeout, startup_timeout=START_SECONDS, kernel_name="python3",
                            kernel_manager_class=RecheckingKernelManager,  # no reply left unseen: kernel_client
                            allow_errors=allow_errors, resources={"metadata": {"path": str(cwd)}},
                            on_cell_start=lambda cell, cell_index: running.update(index=cell_index))
    with kernel_environment(mode, **extra):
        try:
            client.execute()
        except CellTimeoutError as error:
            raise NotebookTimeout(f"{name}: cell {running.get('index', '?')} ran past {timeout} s (a stalled kernel, "
                                  f"or a cell slower than {mode} mode allows)") from error
        except RuntimeError as error:
            if "didn't respond" not in str(error):  # nbclient's words for a kernel that never answered
                raise
            raise NotebookTimeout(f"{name}: its kernel did not answer within {START_SECONDS} s of starting") from error
    return nb

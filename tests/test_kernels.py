"""The environment a headless kernel inherits is set for the run and put back after it, a process
started in it imports this very course_lib (a checkout's, or the one in site-packages), and a cell
past its time fails the run at once, naming the notebook and the cell."""
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import course_lib
from course_lib import kernels, paths


def test_kernel_environment_sets_and_restores(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "workshop")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with kernels.kernel_environment("smoke", CUDA_VISIBLE_DEVICES=""):
        assert os.environ["COURSE_MODE"] == "smoke"
        assert os.environ["MPLBACKEND"] == kernels.INLINE_BACKEND
        assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(paths.IMPORT_ROOT), "/elsewhere"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert os.environ["COURSE_MODE"] == "workshop" and os.environ["PYTHONPATH"] == "/elsewhere"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_kernels_stop_spinning_soon_unless_told_otherwise(monkeypatch):
    """A busy core beside a kernel made notebook 09 over 20 times slower with OpenMP's default spin count."""
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    with kernels.kernel_environment("smoke"):
        assert os.environ["GOMP_SPINCOUNT"] == kernels.GOMP_SPINCOUNT == "1000"
    assert "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "INFINITE")
    with kernels.kernel_environment("smoke"):
        assert os.environ["GOMP_SPINCOUNT"] == "INFINITE"


def test_restored_after_an_error(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    with pytest.raises(RuntimeError):
        with kernels.kernel_environment("smoke"):
            raise RuntimeError
    assert "COURSE_MODE" not in os.environ


def test_the_import_root_is_the_folder_that_holds_this_course_lib():
    assert paths.IMPORT_ROOT / "course_lib" == Path(course_lib.__file__).resolve().parent


def test_a_kernel_imports_the_same_course_lib(tmp_path, monkeypatch):
    """Started elsewhere and without site-packages (``-S``: no install, editable or not, to fall back
    on), a child process finds course_lib only through the PYTHONPATH set for kernels, and it is ours."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    code = "import course_lib; print(course_lib.__file__)"
    with kernels.kernel_environment("smoke"):
        found = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                               check=True).stdout.strip()
    assert Path(found).resolve() == Path(course_lib.__file__).resolve()


@pytest.mark.notebook
def test_a_cell_past_its_time_fails_at_once_naming_the_notebook_and_cell(tmp_path):
    """A stalled kernel must turn into a clear failure, not a silent wait (issue #28)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("import time\ntime.sleep(30)")])
    start = time.perf_counter()
    with pytest.raises(kernels.NotebookTimeout, match=r"^stall\.ipynb: cell 2 ran past 2 s"):
        kernels.execute(nb, tmp_path, timeout=2, allow_errors=True, name="stall.ipynb")
    assert time.perf_counter() - start < 25


def test_every_mode_has_a_cell_time_limit():
    assert set(kernels.CELL_SECONDS) == set(course_lib.MODES)
    assert kernels.CELL_SECONDS["smoke"] < kernels.CELL_SECONDS["workshop"] < kernels.CELL_SECONDS["full"]


class SocketThatMissesItsWakeUp:
    """A socket holding a message whose arrival the event loop was never told of: a poll with a
    timeout finds it only when its timeout fires, as pyzmq's asyncio poll does after a lost edge."""

    def __init__(self, holding: bool):
        self.holding, self.waited = holding, []

    async def poll(self, milliseconds):
        import asyncio

        self.waited.append(milliseconds)
        await asyncio.sleep(milliseconds / 1000)
        return int(self.holding)

    async def recv_message(self):
        return {"msg_type": "execute_reply"}


def test_a_reply_whose_wake_up_was_lost_is_read_within_a_recheck_not_at_the_timeout():
    import asyncio
    from queue import Empty

    from course_lib import kernel_client

    def channel(socket):
        made = object.__new__(kernel_client.RecheckingChannel)  # no real kernel: the wait is what is tested
        made.socket, made._recv = socket, socket.recv_message
        return made

    start = time.perf_counter()
    assert asyncio.run(channel(SocketThatMissesItsWakeUp(holding=True)).get_msg(timeout=60)) == {"msg_type": "execute_reply"}
    assert time.perf_counter() - start < 5 * kernel_client.RECHECK_SECONDS, "it waited for the timeout"
    empty = SocketThatMissesItsWakeUp(holding=False)
    start = time.perf_counter()
    with pytest.raises(Empty):
        asyncio.run(channel(empty).get_msg(timeout=1.2))
    assert 1.2 <= time.perf_counter() - start < 3 and max(empty.waited) <= 1000 * kernel_client.RECHECK_SECONDS


def test_notebooks_run_with_the_rechecking_client(tmp_path, monkeypatch):
    from course_lib import kernel_client

    waits = []
    get_msg = kernel_client.RecheckingChannel.get_msg

    async def counted(self, timeout=None):
        waits.append(timeout)
        return await get_msg(self, timeout)

    monkeypatch.setattr(kernel_client.RecheckingChannel, "get_msg", counted)
    kernels.execute(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), tmp_path)
    assert waits, "kernels.execute waited for its replies without the rechecking channel"

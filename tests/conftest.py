"""Shared test setup: never touch the network, keep runs small and deterministic."""
import os
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("COURSE_MODE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")

from course_lib import kernels  # noqa: E402  (light: no torch)

# for this process and every process it starts; set before torch loads OpenMP, which reads it once
os.environ.setdefault("GOMP_SPINCOUNT", kernels.GOMP_SPINCOUNT)

import pytest  # noqa: E402
import torch  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def pipeline():
    """The Dall·E Mini pipeline from tiny random-weight parts: fast, for testing its plumbing."""
    from course_lib import checks

    return checks.tiny_pipeline()


class SmokeRun:
    """One notebook executed once in smoke mode and shared by the tests that need it: the student
    edition up to its first exercise's check (the stub's check must fail there, with a hint), then
    the instructor's cells from that exercise's solution on (every one must run). Together that is
    the whole notebook with its solutions, run top to bottom, plus the student's first stub."""

    def __init__(self, path, cache_dir):
        import nbformat

        from course_lib import kernels, student

        instructor = nbformat.read(path, as_version=4)
        self.nb = student.to_student(instructor, path.stem)
        found = student.exercises(self.nb)
        self.solution, self.stub_check = found[0] if found else (None, None)
        if self.stub_check is None:
            self.nb.cells, self._offset = instructor.cells, 0
        else:
            self._offset = self.stub_check + 1 - self.solution
            self.nb.cells = self.nb.cells[: self.stub_check + 1] + instructor.cells[self.solution:]
        self.instructor = instructor
        start = time.perf_counter()
        kernels.execute(self.nb, path.parent, mode="smoke", allow_errors=True, name=path.name,
                        COURSE_LIB_CACHE=str(cache_dir))
        self.seconds = time.perf_counter() - start

    def instructor_edition(self):
        """The instructor's notebook with the outputs of this run: the cells before the first exercise
        (the same code in both editions; the instructor's markdown, badge included), then the
        instructor's cells from its solution on. The student's stub and its failed check are left out."""
        import nbformat

        from course_lib import student

        if self.stub_check is None:
            return self.nb
        nb = nbformat.from_dict(self.instructor)
        before = self.nb.cells[: self.solution]
        assert [c.source for c in before if c.cell_type == "code"] == \
            [student.clear_solutions(c.source) for c in nb.cells[: self.solution] if c.cell_type == "code"], \
            "editions differ before exercise 1"
        nb.cells = [ran if ran.cell_type == "code" else mine for ran, mine in zip(before, nb.cells)] + \
            self.nb.cells[self.stub_check + 1:]
        return nb

    def errors(self, cells=None):
        """(index in the notebook, 'Name: message') of each code cell among ``cells`` (a range of
        indices into the executed notebook; all but the stub's check by default) that failed."""
        cells = [i for i in range(len(self.nb.cells)) if i != self.stub_check] if cells is None else cells
        failed = []
        for i in cells:
            cell = self.nb.cells[i]
            for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
                if output.output_type == "error":
                    index = i if self.stub_check is None or i <= self.stub_check else i - self._offset
                    failed.append((index, f"{output.ename}: {output.evalue}"))
        return failed


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run(path)``: the ``SmokeRun`` of a notebook, executed on first use only."""
    runs = {}

    def run(path):
        if path not in runs:
            runs[path] = SmokeRun(path, tmp_path_factory.mktemp("cache"))
        return runs[path]

    return run

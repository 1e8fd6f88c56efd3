"""Shared test setup: never touch the network, keep runs small and deterministic."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("COURSE_MODE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")

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

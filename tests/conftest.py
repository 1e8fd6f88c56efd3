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
    import dataclasses

    from course_lib import bart, clip, dalle_mini
    from course_lib.vqvae import VQVAE, VQVAEConfig

    torch.manual_seed(0)
    translator = bart.CaptionToImageBart(dataclasses.replace(bart.PRESETS["tiny"], image_tokens=64)).eval()
    image_tokenizer = VQVAE(VQVAEConfig.preset("smoke", codebook_size=16)).eval()
    ranker = clip.ShapesCLIP(clip.PRESETS["tiny"]).eval()
    return dalle_mini.Pipeline(translator, image_tokenizer, dalle_mini.clip_ranker(ranker))

"""The real pretrained models fail offline with one sentence; their architectures run with random weights."""
import pytest
import torch
from PIL import Image

from course_lib import pretrained
from course_lib.downloads import OfflineError


def test_clip_vit_b32_offline_is_one_clear_sentence():
    with pytest.raises(OfflineError, match=r"clip-vit-b-32 needs pretrained weights .* run this cell on Colab"):
        pretrained.load_clip_vit_b32()


def test_bart_base_offline_is_one_clear_sentence():
    with pytest.raises(OfflineError, match=r"bart-base needs pretrained weights .*facebook/bart-base"):
        pretrained.load_bart_base()


def test_clip_vit_b32_architecture_scores_pictures():
    torch.manual_seed(0)
    clip = pretrained.load_clip_vit_b32(weights=False)
    pictures = [Image.new("RGB", (64, 48), color) for color in ("red", "blue")]
    scores = pretrained.clip_scores(clip, pictures, ["a red square", "a blue square", "a cat"])
    assert scores.shape == (2, 3) and scores.abs().max() <= 100


def test_bart_base_architecture_denoises_shapes():
    model, _ = pretrained.load_bart_base(weights=False)
    assert sum(p.numel() for p in model.parameters()) > 100e6  # bart-base has about 140M
    ids = torch.tensor([[0, 100, 50264, 200, 2]])  # <s> ... <mask> ... </s>
    out = model(input_ids=ids, decoder_input_ids=ids)
    assert out.logits.shape == (1, 5, 50265)

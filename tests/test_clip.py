import pytest
import torch
import torch.nn.functional as F

from course_lib import clip, shapes
from course_lib.captions import UnknownWordError
from course_lib.datasets import ShapesDataset


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return clip.ShapesCLIP(clip.PRESETS["tiny"].config).eval()


def test_embeddings_are_unit_vectors(model):
    images = shapes.render(shapes.sample_scenes(4))
    assert torch.allclose(model.encode_image(images).norm(dim=-1), torch.ones(4), atol=1e-5)
    emb = model.encode_text(["a red circle", "a big blue box above a green disc"])
    assert emb.shape == (2, 32) and torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_clip_loss_matches_a_hand_computation():
    torch.manual_seed(1)
    img, txt = F.normalize(torch.randn(5, 8), dim=-1), F.normalize(torch.randn(5, 8), dim=-1)
    scale = torch.tensor(10.0)
    logits = scale * img @ txt.T  # (5 pictures, 5 captions); the diagonal holds the matching pairs
    labels = torch.arange(5)
    by_hand = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    assert torch.allclose(clip.contrastive_loss(img, txt, scale), by_hand)


def test_relevance_is_100_times_cosine(model):
    images = shapes.render(shapes.sample_scenes(3))
    prompts = ["a red circle", "a blue square"]
    cosine = model.encode_image(images) @ model.encode_text(prompts).T
    assert torch.allclose(clip.relevance(model, images, prompts), 100 * cosine)


def test_ranking_follows_the_scores(model):
    images = shapes.render(shapes.sample_scenes(10, seed=3))
    order, scores = clip.rank(model, images, "a red circle in the middle")
    assert sorted(order.tolist()) == list(range(10))
    assert (scores[:-1] >= scores[1:]).all()
    assert torch.allclose(scores, clip.relevance(model, images, ["a red circle in the middle"])[order, 0])


def test_zero_shot_returns_class_names(model):
    images = shapes.render(shapes.sample_scenes(6, kind="one"))
    assert set(clip.zero_shot_classify(model, images, "color")) <= set(shapes.COLOR_NAMES)
    assert set(clip.zero_shot_classify(model, images, "shape")) <= set(shapes.SHAPES)
    with pytest.raises(ValueError, match="'color' or 'shape'"):
        clip.zero_shot_classify(model, images, "size")


def test_unknown_words_are_refused(model):
    with pytest.raises(UnknownWordError):
        model.encode_text(["a pink elephant"])


def test_caption_encoder_is_clips_text_half(model):
    prompts = ["a red circle above a blue square", "a blue square above a red circle", "top left : a box"]
    encoder = clip.CaptionEncoder(model.config)
    with torch.no_grad():
        assert not torch.allclose(encoder(prompts), model.encode_text(prompts))  # fresh: random weights
        encoder.copy_from(model)
        same = encoder(prompts)
    assert torch.allclose(same, model.encode_text(prompts), atol=1e-6)
    assert not torch.allclose(same[0], same[1])  # same words, another order: another embedding
    with pytest.raises(UnknownWordError):
        encoder(["a red unicorn"])
    with pytest.raises(RuntimeError):  # text sizes that do not agree are refused, not half copied
        clip.CaptionEncoder(clip.PRESETS["workshop"].config).copy_from(model)


def test_training_lowers_the_contrastive_loss():
    torch.manual_seed(0)
    model = clip.ShapesCLIP(clip.PRESETS["tiny"].config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    data = ShapesDataset(32, kind="one", seed=4)
    batch = (data.images, data.captions)
    first = clip.train_step(model, optimizer, batch)["clip_loss"]
    for _ in range(30):
        last = clip.train_step(model, optimizer, batch)["clip_loss"]
    assert last < first - 0.5

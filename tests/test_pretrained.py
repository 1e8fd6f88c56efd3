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


@pytest.mark.slow
def test_clip_vit_b32_architecture_scores_pictures():
    torch.manual_seed(0)
    clip = pretrained.load_clip_vit_b32(weights=False)
    pictures = [Image.new("RGB", (64, 48), color) for color in ("red", "blue")]
    scores = pretrained.clip_scores(clip, pictures, ["a red square", "a blue square", "a cat"])
    assert scores.shape == (2, 3) and scores.abs().max() <= 100


@pytest.mark.slow
def test_bart_base_architecture_denoises_shapes():
    model, _ = pretrained.load_bart_base(weights=False)
    assert sum(p.numel() for p in model.parameters()) > 100e6  # bart-base has about 140M
    ids = torch.tensor([[0, 100, 50264, 200, 2]])  # <s> ... <mask> ... </s>
    out = model(input_ids=ids, decoder_input_ids=ids)
    assert out.logits.shape == (1, 5, 50265)


# --- the real Dall·E Mini through min-dalle: offline message, side effects, model classes -----------

def test_real_dalle_mini_offline_is_one_clear_sentence(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was contacted")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    with pytest.raises(OfflineError, match=r"dalle-mini needs pretrained weights .*kuprel/min-dalle.* Colab"):
        pretrained.load_real_dalle_mini()
    with pytest.raises(OfflineError, match="dalle-mini"):
        pretrained.draw_real_dalle_mini("an avocado armchair", 4)


def test_importing_min_dalle_through_us_changes_nothing_global():
    import sys

    sys.modules.pop("min_dalle", None)
    sys.modules.pop("min_dalle.min_dalle", None)
    before = (torch.is_grad_enabled(), torch.get_num_threads(), torch.backends.cudnn.enabled,
              torch.backends.cudnn.allow_tf32)
    assert before[0]
    pretrained.import_min_dalle()
    assert (torch.is_grad_enabled(), torch.get_num_threads(), torch.backends.cudnn.enabled,
            torch.backends.cudnn.allow_tf32) == before


@pytest.fixture(scope="module")
def min_dalle_models():
    return pretrained.import_min_dalle().models


def test_min_dalle_bart_encoder_and_decoder_sample_image_tokens(min_dalle_models):
    """Dall·E Mini's BART with 1 layer of width 32: encode a caption, sample image tokens with
    super conditioning, as ``MinDalle.generate_raw_image_stream`` does."""
    torch.manual_seed(0)
    small = dict(layer_count=1, embed_count=32, attention_head_count=2, glu_embed_count=64, device="cpu")
    encoder = min_dalle_models.DalleBartEncoder(text_vocab_count=100, text_token_count=64, **small).eval()
    decoder = min_dalle_models.DalleBartDecoder(image_vocab_count=pretrained.REAL_CODEBOOK_SIZE, **small).eval()
    text = torch.ones(2, 64, dtype=torch.long)  # row 0: unconditional (<s></s>), row 1: the caption
    text[0, :2] = torch.tensor([0, 2])
    text[1, :5] = torch.tensor([0, 17, 42, 9, 2])
    with torch.no_grad():
        encoder_state = encoder(text)  # (2, 64, 32)
        assert encoder_state.shape == (2, 64, 32)
        images = 2
        expanded = [0] * images + [1] * images
        attention_state = torch.zeros(1, images * 4, pretrained.REAL_IMAGE_TOKENS, 32)
        tokens = torch.full((images, 1), pretrained.REAL_CODEBOOK_SIZE - 1)  # min-dalle's start token
        settings = torch.tensor([1.0, 256, 16.0])  # temperature, top-k, super-conditioning factor
        for i in range(3):
            token, attention_state = decoder.sample_tokens(
                settings, attention_mask=text[expanded].not_equal(1)[:, None, None, :],
                encoder_state=encoder_state[expanded], attention_state=attention_state,
                prev_tokens=tokens[:, [i]], token_index=torch.tensor([i]))
            tokens = torch.cat([tokens, token[:, None]], dim=1)
    assert tokens.shape == (images, 4)
    assert ((tokens[:, 1:] >= 0) & (tokens[:, 1:] < pretrained.REAL_CODEBOOK_SIZE)).all()


@pytest.mark.slow
def test_min_dalle_vqgan_turns_16x16_tokens_into_a_256x256_picture(min_dalle_models):
    """The detokenizer is fixed-size (Dall·E Mini's VQGAN f16): 16×16 codes -> 256×256×3 in [0, 255]."""
    torch.manual_seed(0)
    detokenizer = min_dalle_models.VQGanDetokenizer().eval()
    assert detokenizer.embedding.num_embeddings == pretrained.REAL_CODEBOOK_SIZE
    tokens = torch.randint(0, pretrained.REAL_CODEBOOK_SIZE, (1, pretrained.REAL_IMAGE_TOKENS))
    with torch.no_grad():
        picture = detokenizer(False, tokens)
    assert picture.shape == (pretrained.REAL_RESOLUTION, pretrained.REAL_RESOLUTION, 3)
    assert picture.min() >= 0 and picture.max() <= 255


@pytest.mark.slow
def test_draw_real_dalle_mini_runs_min_dalle_end_to_end_and_ranks_with_clip(min_dalle_models):
    """``draw_real_dalle_mini`` on a ``MinDalle`` whose BART is 1 layer of width 32 (random weights, no
    download) and a random-weight CLIP ViT-B/32: 256 tokens sampled, one 256×256 picture, ranked."""
    min_dalle = pretrained.import_min_dalle()
    torch.manual_seed(0)
    model = min_dalle.MinDalle.__new__(min_dalle.MinDalle)  # skip __init__, which downloads
    model.device, model.dtype, model.is_reusable, model.is_verbose, model.is_mega = "cpu", torch.float32, True, False, False
    model.text_token_count, model.layer_count = 64, 1
    small = dict(layer_count=1, embed_count=32, attention_head_count=2, glu_embed_count=64, device="cpu")
    model.embed_count = 32
    model.tokenizer = min_dalle.text_tokenizer.TextTokenizer({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, [])
    model.encoder = min_dalle_models.DalleBartEncoder(text_vocab_count=8, text_token_count=64, **small).eval()
    model.decoder = min_dalle_models.DalleBartDecoder(image_vocab_count=pretrained.REAL_CODEBOOK_SIZE, **small).eval()
    model.detokenizer = min_dalle_models.VQGanDetokenizer().eval()
    clip = pretrained.load_clip_vit_b32(weights=False)
    drawing = pretrained.draw_real_dalle_mini("an avocado armchair", 1, model=model, clip=clip, seed=3)
    assert len(drawing.pictures) == 1 and drawing.pictures[0].size == (256, 256)
    assert drawing.scores.shape == (1,)
    assert torch.is_grad_enabled()

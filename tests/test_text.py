import json
import random

import pytest

from course_lib import captions, shapes, text


@pytest.fixture(scope="module")
def tokenizer():
    return text.load_tokenizer()


def test_round_trip_of_grammar_captions(tokenizer):
    rng = random.Random(0)
    prompts = [captions.describe(s, rng) for s in shapes.sample_scenes(300, seed=1)]
    ids, mask = text.encode(tokenizer, prompts)
    assert ids.shape == mask.shape and (ids[:, 0] == tokenizer.bos_token_id).all()
    assert tokenizer.unk_token_id not in ids
    for prompt, decoded in zip(prompts, tokenizer.batch_decode(ids, skip_special_tokens=True)):
        assert captions.tokenize_words(decoded) == captions.tokenize_words(prompt)


def test_unknown_words_are_refused_with_the_vocabulary(tokenizer):
    with pytest.raises(captions.UnknownWordError, match="unknown word 'pink'; ShapesWorld knows: .*circle"):
        text.encode(tokenizer, ["a pink circle"])
    with pytest.raises(captions.CaptionError, match="at most 24"):
        text.encode(tokenizer, ["a " * 30 + "circle"])


def test_empty_prompt_is_the_unconditional_input(tokenizer):
    ids, _ = text.encode(tokenizer, [""])
    assert ids.tolist() == [[tokenizer.bos_token_id, tokenizer.eos_token_id]]


def test_shipped_tokenizer_matches_the_grammar(tmp_path):
    fresh = text.save_tokenizer(tmp_path / "tok.json")
    assert json.loads(fresh.read_text())["model"]["vocab"] == \
        json.loads(text.TOKENIZER_FILE.read_text())["model"]["vocab"]


def test_missing_tokenizer_file_says_how_to_rebuild(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_tokenizer"):
        text.load_tokenizer(tmp_path / "none.json")

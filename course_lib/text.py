"""The caption tokenizer: ShapesWorld's words as token ids, on Hugging Face ``tokenizers``.

Dall·E Mini's BART reads captions as sub-word tokens; our grammar has a closed vocabulary of about
sixty words, so a word-level tokenizer is exact and easy to read: one id per word, plus the special
tokens BART and CLIP need (padding, begin/end of sequence, mask for BART's denoising, unknown).
It is a ``PreTrainedTokenizerFast``, so it plugs into transformers like any other tokenizer, and it
is saved in ``course_lib/data/caption_tokenizer.json``, loaded offline.

Unknown words are refused before tokenizing, with the list of known words
(``captions.UnknownWordError``), rather than silently becoming ``<unk>``.
"""
from __future__ import annotations

from pathlib import Path

from . import captions
from .checkpoints import CheckpointError
from .paths import DATA_DIR

TOKENIZER_FILE = DATA_DIR / "caption_tokenizer.json"
SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                  "mask_token": "<mask>"}


def build_tokenizer():
    """A fresh word-level tokenizer over ``captions.VOCABULARY`` (the shipped file is this, saved)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = list(SPECIAL_TOKENS.values())
    vocab = {token: i for i, token in enumerate(specials + list(captions.VOCABULARY))}
    core = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()  # words, and , : . as their own tokens
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)


def save_tokenizer(path: Path = TOKENIZER_FILE) -> Path:
    build_tokenizer().backend_tokenizer.save(str(path))
    return path


def load_tokenizer(path: Path = TOKENIZER_FILE):
    """The shipped caption tokenizer, read from disk (no network). A file that is there but cannot be
    read is a ``CheckpointError`` naming it, like a broken checkpoint."""
    from transformers import PreTrainedTokenizerFast

    if not Path(path).exists():
        raise FileNotFoundError(f"caption tokenizer {path} is missing; rebuild it with "
                                "course_lib.text.save_tokenizer() or reinstall the course")
    try:
        return PreTrainedTokenizerFast(tokenizer_file=str(path), **SPECIAL_TOKENS)
    except Exception as error:  # tokenizers raises a bare Exception for bad JSON and for JSON it rejects
        raise CheckpointError(f"caption tokenizer {path} cannot be read ({error}); rebuild it with "
                              "course_lib.text.save_tokenizer() or reinstall the course") from None


def encode(tokenizer, prompts: list[str], max_length: int = captions.MAX_WORDS + 2):
    """Token ids (B, L) and attention mask (B, L) of checked prompts, padded to the longest.

    Every prompt is checked first (``captions.check_words``): an unknown, empty or overlong prompt
    raises a ``CaptionError`` that names the problem.
    """
    for prompt in prompts:
        if prompt != "":  # the empty prompt is allowed here: it is the unconditional input of guidance
            captions.check_words(prompt)
    batch = tokenizer(list(prompts), padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]

"""BART translates captions into image tokens (Lewis et al. 2020; Dall·E Mini; slides "Part 3: BART").

Dall·E Mini's BART reads a caption with its encoder and writes the picture's VQGAN codes with its
decoder, one token at a time: it "translates captions into the codebook vocabulary". This module is
transformers' own ``BartForConditionalGeneration`` with a small config and one vocabulary in three
ranges:

    [0, T)          caption tokens (the caption tokenizer's ids: <pad> <s> </s> <unk> <mask> words)
    [T, T + K)      image tokens: VQ-GAN code k is id T + k
    T + K           <image>: the decoder's start token

The decoder's output is cut to the image range before the softmax, so it can only ever write image
tokens (``image_logits``). The same model can also be trained, as BART is pre-trained, to *denoise*
captions: spans of a caption are replaced by ``<mask>`` and the decoder writes the clean caption
(``mask_spans``, ``denoising_loss``), which notebook 07 shows before translation.

Sampling (``sample``) draws the 64 tokens of an 8×8 grid with temperature, top-k and classifier-free
guidance, which Dall·E Mini calls "super conditioning": the model is also trained with an empty
caption now and then, and at sampling time the logits are pushed away from that unconditional
prediction, ``logits = uncond + scale · (cond - uncond)``.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import random
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


from . import captions, device_of, eval_sets, text
from .checkpoints import Checkpointed
from .train import Budget, CosineSchedule, Preset, Training, fit, pick, seeded


@dataclasses.dataclass
class TranslatorConfig:
    d_model: int = 256  # width of encoder and decoder
    layers: int = 3  # encoder layers = decoder layers
    heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    codebook_size: int = 256  # K: the VQ-GAN's codes
    image_tokens: int = 64  # an 8×8 token grid
    text_vocab: int = 0  # T: set from the caption tokenizer when 0
    max_text_tokens: int = captions.MAX_WORDS + 2


@dataclasses.dataclass
class BartTraining(Training):
    """How the translator is trained: a little caption denoising (BART's pre-training), then
    translation with AdamW on a cosine schedule; ``steps`` / ``seconds`` are translation's budget."""

    lr: float = 1e-3  # AdamW's peak rate; small transformers like this one train well this high
    weight_decay: float = 0.01
    batch_size: int = 64
    n_train: int = 100_000  # mixed ShapesWorld scenes and the VQ-GAN codes of their pictures
    denoise_steps: int = 500  # caption-denoising steps before translation
    denoise_seconds: float | None = None
    uncond_prob: float = 0.1  # share of training captions replaced by "" (for guidance)
    token_noise: float = 0.0  # share of the decoder's input codes replaced by random codes (``add_token_noise``)

    @property
    def denoise_budget(self) -> Budget:
        return Budget(self.denoise_steps, self.denoise_seconds)


_SMALL = TranslatorConfig(d_model=32, layers=1, heads=2, ffn_dim=64)
PRESETS = {
    "tiny": Preset(dataclasses.replace(_SMALL, codebook_size=16, image_tokens=4),
                   BartTraining(steps=2, n_train=64, denoise_steps=2)),  # tests
    "smoke": Preset(_SMALL, BartTraining(steps=20, n_train=256, denoise_steps=10)),  # CI: seconds, on the real tokenizer
    "workshop": Preset(TranslatorConfig(d_model=96, layers=2, heads=4, ffn_dim=384),
                       BartTraining(steps=2000, seconds=150, n_train=20000, denoise_steps=100, denoise_seconds=20)),
    # sized to train on a CPU (~50 min on 2 cores); token noise makes the decoder follow the caption,
    # not only its own past tokens: one sample per held-out prompt went from 20 % right to 71 % with
    # it and dropout 0.1 (benchmarks/results/pipeline_experiments.md)
    "full": Preset(TranslatorConfig(d_model=128, layers=3, heads=4, ffn_dim=512, dropout=0.1),
                   BartTraining(steps=10000, seconds=6000, denoise_steps=500, denoise_seconds=90, token_noise=0.2)),
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


class CaptionToImageBart(Checkpointed, nn.Module):
    """``BartForConditionalGeneration`` whose encoder reads captions and whose decoder writes image tokens."""

    config_class = TranslatorConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: TranslatorConfig):
        super().__init__()
        from transformers import BartForConditionalGeneration

        self.tokenizer, self.config, self.image_offset, self.image_bos = vocabulary(config)
        self.bart = BartForConditionalGeneration(self._bart_config(config))
        # transformers renamed the decoder's key/value cache from ``past_key_values`` to ``cache``
        # (argument and output; the old name is deprecated, to go in 5.40): use this version's name
        params = inspect.signature(BartForConditionalGeneration.forward).parameters
        self._cache_name = "cache" if "cache" in params else "past_key_values"

    def _bart_config(self, config: TranslatorConfig):
        """transformers' ``BartConfig`` of this model: one vocabulary of captions, codes and <image>."""
        from transformers import BartConfig

        return BartConfig(
            vocab_size=self.image_bos + 1, d_model=config.d_model,
            encoder_layers=config.layers, decoder_layers=config.layers,
            encoder_attention_heads=config.heads, decoder_attention_heads=config.heads,
            encoder_ffn_dim=config.ffn_dim, decoder_ffn_dim=config.ffn_dim, dropout=config.dropout,
            max_position_embeddings=max(config.image_tokens, config.max_text_tokens) + 2,
            pad_token_id=self.tokenizer.pad_token_id, bos_token_id=self.tokenizer.bos_token_id,
            eos_token_id=self.tokenizer.eos_token_id, decoder_start_token_id=self.image_bos,
            forced_eos_token_id=None,
        )

    @property
    def device(self) -> torch.device:
        return self.bart.lm_head.weight.device

    def encode_prompts(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked prompts -> caption token ids and attention mask (B, L) on the model's device."""
        ids, mask = text.encode(self.tokenizer, list(prompts), max_length=self.config.max_text_tokens)
        return ids.to(self.device), mask.to(self.device)

    def image_logits(self, text_ids, text_mask, codes_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits over the K image codes only: (B, L, K) for decoder inputs (B, L)."""
        out = self.bart(input_ids=text_ids, attention_mask=text_mask, decoder_input_ids=codes_in)
        return out.logits[..., self.image_offset:self.image_bos]

    def next_token_logits(self, encoder_outputs, text_mask, tokens: torch.Tensor, cache=None):
        """One decoding step: logits over the K image codes for the token after ``tokens`` (B, 1),
        and the decoder's key/value cache of the tokens so far, to pass back at the next step (the
        cache keeps earlier tokens from being run again). Returns ((B, K) float logits, cache)."""
        out = self.bart(encoder_outputs=encoder_outputs, attention_mask=text_mask, decoder_input_ids=tokens,
                        use_cache=True, **{self._cache_name: cache})
        return out.logits[:, -1, self.image_offset:self.image_bos].float(), getattr(out, self._cache_name)

    def sample(self, prompts: Sequence[str], **sampling) -> torch.Tensor:
        """One token grid per prompt, (B, image_tokens) codes in [0, K): ``bart.sample`` with this model.
        The pipeline calls this method, so any translator that has it plugs in."""
        return sample(self, prompts, **sampling)

    def decoder_inputs(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, N) in [0, K) -> decoder input ids (B, N): <image>, then the codes shifted right."""
        return image_inputs(self, codes)


def image_inputs(model, codes: torch.Tensor) -> torch.Tensor:
    """Codes (B, N) in [0, K) -> the ids a translator reads while writing them (B, N): ``<image>``
    (``model.image_bos``), then the codes shifted right, as vocabulary ids (``code + model.image_offset``).
    Teacher forcing: at position i the model has seen only the codes before code i."""
    start = torch.full_like(codes[:, :1], model.image_bos)
    return torch.cat([start, codes[:, :-1] + model.image_offset], dim=1)


def vocabulary(config):
    """A translator's one vocabulary, from its config (``TranslatorConfig`` or ``dalle.DalleConfig``):
    (the caption tokenizer, the config with ``text_vocab`` T filled in, ``image_offset`` = T, the id of
    code 0, and ``image_bos`` = T + K, the id of ``<image>``, where a picture starts)."""
    tokenizer = text.load_tokenizer()
    t = config.text_vocab or len(tokenizer)
    return tokenizer, dataclasses.replace(config, text_vocab=t), t, t + config.codebook_size


def translation_loss(model: CaptionToImageBart, prompts: Sequence[str], codes: torch.Tensor,
                     token_noise: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the next image token, caption given: codes (B, N) -> scalar.

    In training, ``token_noise`` of the decoder's input codes are replaced by random ones
    (``add_token_noise``); the targets stay clean."""
    text_ids, text_mask = model.encode_prompts(prompts)
    inputs = model.decoder_inputs(codes)  # (B, N)
    if model.training and token_noise > 0:
        inputs = add_token_noise(model, inputs, token_noise)
    logits = model.image_logits(text_ids, text_mask, inputs)  # (B, N, K)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))


def add_token_noise(model: CaptionToImageBart, inputs: torch.Tensor, prob: float) -> torch.Tensor:
    """Replace each image token of decoder inputs (B, N) by a random code with probability ``prob``
    (the <image> start token stays).

    Why: teacher-forced, the decoder can predict most codes from the codes before them (a purple
    edge continues as the purple shapes it has seen), and then ignores the caption exactly where a
    held-out prompt ("a purple triangle") needs it. With some of its past tokens unreliable, it has
    to read the caption. Bowman et al. 2016 ("Generating sentences from a continuous space") drop
    decoder input words for the same reason; BERT (Devlin et al. 2019) swaps in random tokens."""
    noise = torch.randint_like(inputs, model.config.codebook_size) + model.image_offset
    swap = torch.rand(inputs.shape, device=inputs.device) < prob
    swap[:, 0] = False
    return torch.where(swap, noise, inputs)


def drop_captions(prompts: Sequence[str], prob: float, rng: random.Random) -> list[str]:
    """Replace each caption by "" with probability ``prob``: the unconditional examples guidance needs."""
    return ["" if rng.random() < prob else p for p in prompts]


# ---------------------------------------------------------------- BART's own pre-training: denoising

def mask_spans(words: list[str], rng: random.Random, ratio: float = 0.3, mean_span: float = 2.0) -> list[str]:
    """BART's text infilling: spans (lengths ~ Poisson(mean_span)) covering about ``ratio`` of the
    words are each replaced by one ``<mask>``, so the model must also guess how many words are missing."""
    words, budget = list(words), max(1, round(ratio * len(words)))
    while budget > 0 and words:
        length = min(budget, max(1, _poisson(rng, mean_span)))
        start = rng.randrange(0, max(1, len(words) - length + 1))
        words[start:start + length] = ["<mask>"]
        budget -= length
    return words


def _poisson(rng: random.Random, mean: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-mean)  # Knuth's method: multiply uniforms until below e^-mean
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def denoising_loss(model: CaptionToImageBart, prompts: Sequence[str], rng: random.Random) -> torch.Tensor:
    """Corrupt captions with ``mask_spans``; the decoder must write the clean caption (text tokens)."""
    tok = model.tokenizer
    corrupted = [" ".join(mask_spans(captions.tokenize_words(p), rng)) for p in prompts]
    src = tok(corrupted, padding=True, return_tensors="pt").to(model.device)
    clean = tok(list(prompts), padding=True, return_tensors="pt")["input_ids"].to(model.device)
    labels = clean.masked_fill(clean == tok.pad_token_id, -100)
    return model.bart(input_ids=src["input_ids"], attention_mask=src["attention_mask"], labels=labels).loss


@torch.no_grad()
def fill_masks(model: CaptionToImageBart, corrupted: Sequence[str], max_words: int = captions.MAX_WORDS) -> list[str]:
    """Greedy denoising: captions with ``<mask>`` -> the model's clean caption."""
    tok = model.tokenizer
    src = tok(list(corrupted), padding=True, return_tensors="pt").to(model.device)
    out = model.bart.generate(**src, decoder_start_token_id=tok.bos_token_id, max_length=max_words + 2,
                              num_beams=1, do_sample=False, bad_words_ids=[[model.image_bos]]
                              + [[model.image_offset + k] for k in range(model.config.codebook_size)])
    return tok.batch_decode(out, skip_special_tokens=True)


# ---------------------------------------------------------------- sampling image tokens

# How the course samples the shipped translator: the draw command, notebook 09's pipeline and the
# benchmark. Temperature 1, the model's own distribution: with the translator trained with token
# noise (200 held-out prompts per kind, 16 candidates each, CLIP's first choice) it gave 87.5 % right
# against 86.5 % at 0.7, and ranking lifted it 14 points above one random candidate against 9.6 at
# 0.7, since the candidates vary more (benchmarks/results/pipeline_experiments.md). Guidance 1 (none): on
# an earlier translator (same file, 100 held-out prompts per kind), 1.5 at temperature 1 raised CLIP's
# first choice on one-object prompts (54 to 58 %) and lowered it on two-object ones (56 to 50 %);
# scale 1 also skips the unconditional half of the batch.
DEFAULT_SAMPLING = {"temperature": 1.0, "top_k": None, "guidance_scale": 1.0}


def guide(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance ("super conditioning"): uncond + scale · (cond - uncond)."""
    return uncond + scale * (cond - uncond)


def filter_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the rest to -inf (``None`` or 0 keeps all)."""
    if not k or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@torch.no_grad()
def sample(model: CaptionToImageBart, prompts: Sequence[str], *, temperature: float = 1.0,
           top_k: int | None = None, guidance_scale: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token grid per prompt: codes (B, image_tokens) in [0, K).

    Each step runs only the newest token through the decoder (the cache keeps the rest). With
    ``guidance_scale != 1`` the batch also carries an empty caption per prompt, and the two
    predictions are mixed by ``guide``; at scale 1 the mix is the conditional prediction itself, so
    the unconditional half is skipped.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    model.eval()
    guided = guidance_scale != 1.0
    batch = list(prompts) + ([""] * len(prompts) if guided else [])
    text_ids, text_mask = model.encode_prompts(batch)
    encoder_outputs = model.bart.get_encoder()(input_ids=text_ids, attention_mask=text_mask)
    tokens = torch.full((len(batch), 1), model.image_bos, device=model.device)
    cache, codes = None, []
    for _ in range(model.config.image_tokens):
        logits, cache = model.next_token_logits(encoder_outputs, text_mask, tokens, cache)  # (B or 2B, K)
        code = draw_next_code(logits, guided, guidance_scale=guidance_scale, temperature=temperature,
                              top_k=top_k, generator=generator)  # (B, 1)
        codes.append(code)
        tokens = code + model.image_offset
        if guided:
            tokens = tokens.repeat(2, 1)
    return torch.cat(codes, dim=1)


def draw_next_code(logits: torch.Tensor, guided: bool, *, guidance_scale: float, temperature: float,
                   top_k: int | None, generator: torch.Generator | None) -> torch.Tensor:
    """One sampling step of any translator: logits over the K codes, (B, K), or with ``guided`` (2B, K)
    (the conditional rows, then the unconditional ones) -> the drawn codes (B, 1) on the logits'
    device. The guidance mix (``guide``), then the temperature, then top-k (``filter_top_k``), then a
    draw from the softmax by ``generator`` (on the CPU, so a seed gives the same codes on any device)."""
    if guided:
        cond, uncond = logits.chunk(2)
        logits = guide(cond, uncond, guidance_scale)
    logits = filter_top_k(logits / temperature, top_k)
    return torch.multinomial(logits.softmax(-1).cpu(), 1, generator=generator).to(logits.device)


# ---------------------------------------------------------------- training and measuring

def caption_codes(image_tokenizer, data, batch_size: int = 500) -> torch.Tensor:
    """The token grids of a data set's pictures, flattened: (N, 64) long."""
    device = device_of(image_tokenizer)
    return torch.cat([image_tokenizer.encode(data.images[i:i + batch_size].to(device)).flatten(1).cpu()
                      for i in range(0, len(data), batch_size)])


def optimizer(model: nn.Module, training: Training) -> torch.optim.Optimizer:
    """AdamW at ``training.lr`` and ``training.weight_decay``, shared by denoising and translation (BART's
    pre-training then fine-tuning), and by ``dalle``'s one-stream transformer."""
    return torch.optim.AdamW(model.parameters(), lr=training.lr, weight_decay=training.weight_decay)


def make_denoising_step(model: CaptionToImageBart, optimizer: torch.optim.Optimizer, rng: random.Random):
    """``step(batch)`` for ``train.fit`` on (pictures, captions) batches: one step of caption denoising."""
    def step(batch):
        loss = denoising_loss(model, batch[1], rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"denoising": loss.item()}
    return step


def make_step(model: CaptionToImageBart, training: BartTraining, optimizer: torch.optim.Optimizer,
              captions_of: Sequence[str], codes: torch.Tensor, rng: random.Random):
    """``step(batch)`` for ``train.fit`` on batches of indices into ``captions_of`` and ``codes`` (N, 64):
    one step of translation, with captions dropped for guidance (``training.uncond_prob``), token
    noise (``translation_loss``), gradients clipped at norm 1 and the learning rate on a cosine
    schedule over ``training``'s budget."""
    schedule = CosineSchedule(optimizer, training.budget)  # warm-up, then decay to 10% by the budget's end

    def step(batch):
        (index,) = batch
        prompts = drop_captions([captions_of[i] for i in index], training.uncond_prob, rng)
        loss = translation_loss(model, prompts, codes[index].to(model.device), training.token_noise)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        return {"translation": loss.item()}
    return step


def train(model: CaptionToImageBart, training: BartTraining, image_tokenizer, *, callback=None,
          every: int = 0, progress: bool = True):
    """Pre-train ``model`` (fresh from ``build``) on caption denoising, then train translation
    caption -> ``image_tokenizer``'s codes, within ``training``'s budgets, seeded by
    ``training.seed``. Returns the model (in eval mode) and the translation's loss history."""
    from . import datasets

    seed = training.seed
    data = datasets.ShapesDataset(training.n_train, kind="mixed", seed=seed)
    codes = caption_codes(image_tokenizer, data)
    rng = random.Random(seed)
    indexed = torch.utils.data.TensorDataset(torch.arange(len(data)))
    with seeded(seed):  # dropout and token noise
        adamw = optimizer(model, training)
        model.train()
        fit(make_denoising_step(model, adamw, rng), datasets.loader(data, training.batch_size, seed=seed),
            training.denoise_budget, desc="BART denoising", progress=progress, device=model.device)
        history = fit(make_step(model, training, adamw, data.captions, codes, rng),
                      datasets.loader(indexed, training.batch_size, seed=seed + 1), training.budget,
                      desc="BART translation", every=every, callback=callback, progress=progress,
                      device=model.device)
    return model.eval(), history


@torch.no_grad()
def pictures(model, image_tokenizer, prompts: Sequence[str], *,
             seed: int = 0, batch_size: int = 200, **sampling) -> torch.Tensor:
    """One sampled picture per prompt: the translator's ``sample`` (this module's, or any translator's
    with that method, e.g. ``dalle``'s) then the image tokenizer's decode, in batches."""
    generator = torch.Generator().manual_seed(seed)
    device = device_of(image_tokenizer)
    images = []
    for start in range(0, len(prompts), batch_size):
        codes = model.sample(list(prompts[start:start + batch_size]), generator=generator, **sampling)
        side = int(codes.shape[1] ** 0.5)
        images.append(image_tokenizer.decode(codes.view(-1, side, side).to(device)).cpu())
    return torch.cat(images)


def caption_accuracy(model, image_tokenizer, prompts: Sequence[str], **sampling) -> float:
    """Oracle caption accuracy of one sampled picture per prompt."""
    from . import oracle

    return oracle.caption_accuracy(pictures(model, image_tokenizer, prompts, **sampling), prompts)


def mistake_counts(model, image_tokenizer, prompts: Sequence[str], **sampling) -> dict[str, int]:
    """``oracle.mistake_counts`` of one sampled picture per prompt: how many pictures get the colour,
    shape, size, position or number of objects wrong (a picture may get several wrong)."""
    from . import oracle

    return oracle.mistake_counts(pictures(model, image_tokenizer, prompts, **sampling), prompts)


def evaluate(model, image_tokenizer, n: int = 200) -> dict[str, float]:
    """Caption accuracy of one sample per prompt at temperature 1 (the model's own distribution) on
    ``n`` canonical prompts of each split and kind: ``caption_acc_{seen,heldout}_{one,two}``, for any
    translator with a ``sample`` method. The benchmark also measures it sampled as
    ``DEFAULT_SAMPLING`` and on partial prompts."""
    return {f"caption_acc_{tag}_{kind}": caption_accuracy(model, image_tokenizer, eval_sets.prompts(n, split, kind))
            for split, tag in eval_sets.SPLIT_TAGS.items() for kind in ("one", "two")}


def build(config: TranslatorConfig, image_tokenizer) -> CaptionToImageBart:
    """A fresh translator for ``image_tokenizer``'s codebook, on the tokenizer's device."""
    config = dataclasses.replace(config, codebook_size=image_tokenizer.config.codebook_size, image_tokens=64)
    return CaptionToImageBart(config).to(device_of(image_tokenizer))

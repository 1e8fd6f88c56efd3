"""DALL·E's translator: one decoder-only transformer over caption and image tokens (Ramesh et al. 2021).

The history deck's "What is famous Dall-E" and "Dall-E - training with Transformer": DALL·E does not
read the caption with an encoder and write the picture with a decoder, as BART does (``bart``). It
puts both into **one stream** and trains one autoregressive transformer on it, as GPT is trained on
text:

    [caption tokens, padded to a fixed length L] [<image>] [64 VQ-GAN codes]

Every token attends to every token before it (a causal mask), so the codes read the caption simply by
coming after it. The model is transformers' own ``GPT2LMHeadModel`` with a small config, over the
vocabulary ``bart`` uses (caption tokens in [0, T), code k as T + k, <image> as T + K). DALL·E pads
each text position with its own padding token; here the one ``<pad>`` plus GPT-2's learned position
embedding is a distinct vector at every position, which comes to the same.

The loss is next-token cross-entropy on *both* parts of the stream, weighted as in the paper: text
1/8, image 7/8 (``DalleTraining.text_weight``; ``stream_loss``). Text positions predict caption tokens
and image positions only image codes: each part's logits are cut to its own range before the softmax
(``part_logits``), so a picture can never contain a word.

What this module shares with ``bart``: the caption dropping that classifier-free guidance needs, token
noise on the codes the model reads, the sampling step (``bart.draw_next_code``: guidance mix,
temperature, top-k), and the measurement (``bart.evaluate`` on ``eval_sets``), so the two translators
are trained, sampled and measured alike and differ only where DALL·E and BART differ. ``sample`` keeps
GPT-2's key/value cache: the caption is read once, then each step runs only the newest code.
``attention_mask`` draws DALL·E's sparse row, column and convolutional masks beside the causal one
this model trains with (notebook 10).
"""
from __future__ import annotations

import dataclasses
import inspect
import random
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import bart, captions, device_of, text
from .checkpoints import Checkpointed
from .train import CosineSchedule, Preset, Training, fit, pick, seeded


@dataclasses.dataclass
class DalleConfig:
    d_model: int = 128  # width of the transformer
    layers: int = 4  # transformer blocks
    heads: int = 4
    ffn_dim: int = 512
    dropout: float = 0.1  # on the residual stream and the embeddings
    codebook_size: int = 256  # K: the VQ-GAN's codes
    image_tokens: int = 64  # an 8×8 token grid
    text_vocab: int = 0  # T: set from the caption tokenizer when 0
    max_text_tokens: int = captions.MAX_WORDS + 2  # L: every caption is padded to this length


@dataclasses.dataclass
class DalleTraining(Training):
    """How the one-stream transformer is trained: AdamW on a cosine schedule, next-token loss on the
    whole stream with the text part weighted ``text_weight`` and the image part ``1 - text_weight``."""

    lr: float = 1e-3  # AdamW's peak rate
    weight_decay: float = 0.01
    batch_size: int = 64
    n_train: int = 100_000  # mixed ShapesWorld scenes and the VQ-GAN codes of their pictures
    text_weight: float = 1 / 8  # DALL·E's weighting: text 1/8, image 7/8
    uncond_prob: float = 0.1  # share of training captions replaced by "" (for guidance)
    token_noise: float = 0.0  # share of the codes the model reads replaced by random ones (``bart.add_token_noise``)


_SMALL = DalleConfig(d_model=32, layers=1, heads=2, ffn_dim=64)
PRESETS = {
    "tiny": Preset(dataclasses.replace(_SMALL, codebook_size=16, image_tokens=4, max_text_tokens=20),
                   DalleTraining(steps=2, n_train=64)),  # tests
    "smoke": Preset(_SMALL, DalleTraining(steps=20, n_train=256)),  # CI: seconds, on the real tokenizer
    "workshop": Preset(DalleConfig(d_model=64, layers=3, heads=4, ffn_dim=256),
                       DalleTraining(steps=2000, seconds=90, n_train=20000)),
    # BART's full size and recipe (token noise 0.2, bart.PRESETS) in one stack; a step costs about 0.5 s
    # of one CPU core, so on a 2-core CPU shared with other jobs the time cap ends it first
    "full": Preset(DalleConfig(d_model=128, layers=4, heads=4, ffn_dim=512, dropout=0.1),
                   DalleTraining(steps=10000, seconds=7800, token_noise=0.2)),
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


class CaptionToImageGPT(Checkpointed, nn.Module):
    """``GPT2LMHeadModel`` reading one stream: the padded caption, ``<image>``, then the image codes."""

    config_class = DalleConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: DalleConfig):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        # caption tokens [0, T), code k as T + k (image_offset = T), <image> as T + K (image_bos), as BART's
        self.tokenizer, self.config, self.image_offset, self.image_bos = bart.vocabulary(config)
        self.gpt = GPT2LMHeadModel(GPT2Config(
            vocab_size=self.image_bos + 1, n_positions=config.max_text_tokens + config.image_tokens,
            n_embd=config.d_model, n_layer=config.layers, n_head=config.heads, n_inner=config.ffn_dim,
            resid_pdrop=config.dropout, embd_pdrop=config.dropout,
            attn_pdrop=0.0, activation_function="gelu",  # as BART's defaults: no attention dropout, exact GELU
            # no pad_token_id: <pad> is a token the stream attends to (DALL·E's padding), not one to mask
            bos_token_id=self.tokenizer.bos_token_id, eos_token_id=self.tokenizer.eos_token_id))
        # transformers renamed the key/value cache from ``past_key_values`` to ``cache`` (see ``bart``)
        params = inspect.signature(GPT2LMHeadModel.forward).parameters
        self._cache_name = "cache" if "cache" in params else "past_key_values"

    @property
    def device(self) -> torch.device:
        return self.gpt.lm_head.weight.device

    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """Checked prompts -> caption ids padded to the fixed length L: (B, L) on the model's device."""
        ids, _ = text.encode(self.tokenizer, list(prompts), max_length=self.config.max_text_tokens)
        padding = self.config.max_text_tokens - ids.shape[1]
        return F.pad(ids, (0, padding), value=self.tokenizer.pad_token_id).to(self.device)

    def stream(self, prompts: Sequence[str], codes: torch.Tensor) -> torch.Tensor:
        """The one stream the transformer reads in training, (B, L + N): the caption ids padded to L,
        ``<image>``, and the codes (B, N) but the last (the last is only ever predicted)."""
        return torch.cat([self.encode_prompts(prompts), bart.image_inputs(self, codes.to(self.device))], dim=1)

    def part_logits(self, stream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits of a stream (B, L + N), each part over its own vocabulary only:
        text (B, L - 1, T), predicting caption tokens 1 .. L-1, and image (B, N, K), predicting codes
        1 .. N. (The last caption position predicts ``<image>``, which always comes there: no loss.)"""
        length = self.config.max_text_tokens
        logits = self.gpt(input_ids=stream).logits  # (B, L + N, T + K + 1)
        return logits[:, :length - 1, :self.image_offset], logits[:, length:, self.image_offset:self.image_bos]

    def next_code_logits(self, tokens: torch.Tensor, cache=None):
        """One sampling step: the stream's newest tokens (B, n) -> logits over the K codes for the
        token after them, (B, K) float, and the key/value cache of everything so far."""
        out = self.gpt(input_ids=tokens, use_cache=True, **{self._cache_name: cache})
        return out.logits[:, -1, self.image_offset:self.image_bos].float(), getattr(out, self._cache_name)

    def sample(self, prompts: Sequence[str], **sampling) -> torch.Tensor:
        """One token grid per prompt, (B, image_tokens) codes in [0, K): ``dalle.sample`` with this
        model. The pipeline calls this method, as it calls BART's."""
        return sample(self, prompts, **sampling)


def part_losses(model: CaptionToImageGPT, prompts: Sequence[str], codes: torch.Tensor,
                token_noise: float = 0.0) -> dict[str, torch.Tensor]:
    """Next-token cross-entropy of each part of the stream: ``{"text": ..., "image": ...}`` (scalars).
    Padding after ``</s>`` is not a target. In training, ``token_noise`` of the codes the model reads
    are replaced by random ones (``bart.add_token_noise``); the codes it predicts stay clean."""
    stream = model.stream(prompts, codes)  # (B, L + N)
    length = model.config.max_text_tokens
    if model.training and token_noise > 0:
        stream = torch.cat([stream[:, :length], bart.add_token_noise(model, stream[:, length:], token_noise)], dim=1)
    text_logits, image_logits = model.part_logits(stream)  # (B, L - 1, T), (B, N, K)
    targets = stream[:, 1:length].masked_fill(stream[:, 1:length] == model.tokenizer.pad_token_id, -100)
    return {"text": F.cross_entropy(text_logits.transpose(1, 2), targets, ignore_index=-100),
            "image": F.cross_entropy(image_logits.transpose(1, 2), codes.to(model.device))}


def stream_loss(losses: dict[str, torch.Tensor], text_weight: float) -> torch.Tensor:
    """DALL·E's weighted loss: ``text_weight`` × text + (1 - ``text_weight``) × image (1/8 and 7/8)."""
    return text_weight * losses["text"] + (1 - text_weight) * losses["image"]


@torch.no_grad()
def sample(model: CaptionToImageGPT, prompts: Sequence[str], *, temperature: float = 1.0,
           top_k: int | None = None, guidance_scale: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token grid per prompt: codes (B, image_tokens) in [0, K).

    The first step reads the caption and ``<image>`` (B, L + 1); each later step runs only the newest
    code through the transformer (the cache keeps the rest). Each step is ``bart.draw_next_code``: with
    ``guidance_scale != 1`` the batch also carries an empty caption per prompt and the two predictions
    are mixed by ``bart.guide``; at scale 1 the unconditional half is skipped.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    model.eval()
    guided = guidance_scale != 1.0
    batch = list(prompts) + ([""] * len(prompts) if guided else [])
    text_ids = model.encode_prompts(batch)  # (B or 2B, L)
    tokens = torch.cat([text_ids, torch.full_like(text_ids[:, :1], model.image_bos)], dim=1)
    cache, codes = None, []
    for _ in range(model.config.image_tokens):
        logits, cache = model.next_code_logits(tokens, cache)  # (B or 2B, K)
        code = bart.draw_next_code(logits, guided, guidance_scale=guidance_scale, temperature=temperature,
                                   top_k=top_k, generator=generator)  # (B, 1)
        codes.append(code)
        tokens = code + model.image_offset
        if guided:
            tokens = tokens.repeat(2, 1)
    return torch.cat(codes, dim=1)


# ---------------------------------------------------------------- which token reads which: attention masks

MASK_KINDS = ("causal", "row", "column", "convolutional")


def attention_mask(kind: str, text_tokens: int, side: int, kernel: int = 3) -> torch.Tensor:
    """Which position of a stream [``text_tokens`` caption positions, then a ``side`` × ``side`` grid of
    image tokens, row by row] may read which: (S, S) bool, True where position i (row) reads position
    j (column), S = text_tokens + side².

    ``causal`` is what ``CaptionToImageGPT`` trains with (GPT-2's mask): every position reads itself and
    all before it. DALL·E's sparse masks (Ramesh et al. 2021, appendix B.1, Fig. 11) keep that for the
    caption, and every image token still reads the whole caption, but an image token reads only some of
    the image tokens before it: ``row``, those of its own row; ``column``, those of its own column;
    ``convolutional``, those in the ``kernel`` × ``kernel`` neighbourhood around it. DALL·E uses the row
    mask in most layers, the column mask in every fourth, and the convolutional one in the last, so that a 32 × 32 grid costs far less than
    full attention. (Drawn here; the course's 8 × 8 grids train with the causal mask.)"""
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask {kind!r}; choose one of: {', '.join(MASK_KINDS)}")
    position = torch.arange(text_tokens + side * side)
    causal = position[:, None] >= position[None, :]  # (S, S)
    if kind == "causal":
        return causal
    is_image = position >= text_tokens
    cell = (position - text_tokens).clamp(min=0)
    row, column = cell // side, cell % side
    if kind == "row":
        near = row[:, None] == row[None, :]
    elif kind == "column":
        near = column[:, None] == column[None, :]
    else:
        near = ((row[:, None] - row[None, :]).abs() <= kernel // 2) & \
               ((column[:, None] - column[None, :]).abs() <= kernel // 2)
    image_reads_image = is_image[:, None] & is_image[None, :]
    return causal & (~image_reads_image | near)


# ---------------------------------------------------------------- training and measuring

def make_step(model: CaptionToImageGPT, training: DalleTraining, optimizer: torch.optim.Optimizer,
              captions_of: Sequence[str], codes: torch.Tensor, rng: random.Random):
    """``step(batch)`` for ``train.fit`` on batches of indices into ``captions_of`` and ``codes`` (N, 64):
    one step on the stream loss (``stream_loss``), with captions dropped for guidance
    (``training.uncond_prob``), token noise, gradients clipped at norm 1 and the learning rate on a
    cosine schedule over ``training``'s budget. Records the total and each part."""
    schedule = CosineSchedule(optimizer, training.budget)

    def step(batch):
        (index,) = batch
        prompts = bart.drop_captions([captions_of[i] for i in index], training.uncond_prob, rng)
        losses = part_losses(model, prompts, codes[index], training.token_noise)
        loss = stream_loss(losses, training.text_weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), "text": losses["text"].item(), "image": losses["image"].item()}
    return step


def train(model: CaptionToImageGPT, training: DalleTraining, image_tokenizer, *, callback=None,
          every: int = 0, progress: bool = True):
    """Train ``model`` (fresh from ``build``) on ShapesWorld captions and ``image_tokenizer``'s codes of
    their pictures, within ``training``'s budget, seeded by ``training.seed``. Returns the model (in
    eval mode) and the loss history (``loss``, ``text``, ``image``)."""
    from . import datasets

    seed = training.seed
    data = datasets.ShapesDataset(training.n_train, kind="mixed", seed=seed)
    codes = bart.caption_codes(image_tokenizer, data)
    indexed = torch.utils.data.TensorDataset(torch.arange(len(data)))
    with seeded(seed):  # dropout and token noise
        adamw = bart.optimizer(model, training)
        model.train()
        history = fit(make_step(model, training, adamw, data.captions, codes, random.Random(seed)),
                      datasets.loader(indexed, training.batch_size, seed=seed + 1), training.budget,
                      desc="DALL·E stream", every=every, callback=callback, progress=progress,
                      device=device_of(model))
    return model.eval(), history


def evaluate(model: CaptionToImageGPT, image_tokenizer, n: int = 200) -> dict[str, float]:
    """``bart.evaluate`` for this translator: caption accuracy of one sample per prompt at temperature 1
    on ``n`` canonical prompts of each split and kind, ``caption_acc_{seen,heldout}_{one,two}``."""
    return bart.evaluate(model, image_tokenizer, n)


def build(config: DalleConfig, image_tokenizer) -> CaptionToImageGPT:
    """A fresh one-stream translator for ``image_tokenizer``'s codebook, on the tokenizer's device."""
    config = dataclasses.replace(config, codebook_size=image_tokenizer.config.codebook_size, image_tokens=64)
    return CaptionToImageGPT(config).to(device_of(image_tokenizer))

"""A small CLIP for ShapesWorld, on open_clip: contrastive pre-training, relevance scores, zero-shot
classification and ranking (Radford et al. 2021; slides "CLIP to Rank Images by Relevance").

Dall·E Mini draws many candidates and keeps those CLIP finds most relevant to the prompt. The model
here is open_clip's own ``CLIP`` class with a small config: a vision transformer over 4×4 patches of
32×32 pictures and a text transformer over our caption tokenizer's ids, each ending in a projection
into one shared embedding space. Training uses open_clip's ``ClipLoss``: in a batch of N (picture,
caption) pairs, the N matching pairs must score higher than the N² - N mismatched ones, read both
ways (picture → caption and caption → picture).

The relevance score of the slides ("Score: 31.59") is 100 × the cosine similarity of the two
embeddings, as the CLIP paper and the slide's demo compute it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


from . import captions, device_of, eval_sets, oracle, text
from .checkpoints import Checkpointed
from .shapes import COLOR_NAMES, SHAPES
from .train import CosineSchedule, History, Preset, Training, fit, pick, seeded

SCORE_SCALE = 100.0  # relevance score = 100 × cosine similarity, as on the slide
MAX_LOGIT_SCALE = math.log(100)  # the learned temperature 1/τ is clipped at 100, as in CLIP (section 2.5)


@dataclasses.dataclass
class ClipConfig:
    embed_dim: int = 128  # size of the shared image/text embedding space
    image_size: int = 32  # ShapesWorld pictures
    patch_size: int = 4  # a 32×32 picture is 8×8 patches
    vision_width: int = 128  # width of the vision transformer
    vision_layers: int = 4
    text_width: int = 128  # width of the text transformer
    text_heads: int = 4
    text_layers: int = 3
    context_length: int = captions.MAX_WORDS + 2  # words plus <s> and </s>
    vocab_size: int = 0  # set from the caption tokenizer when 0


@dataclasses.dataclass
class ClipTraining(Training):
    """How CLIP is trained: AdamW on a cosine schedule, over large contrastive batches."""

    lr: float = 5e-4  # AdamW's peak rate
    weight_decay: float = 0.1
    batch_size: int = 128  # pictures and captions per contrastive batch: 128² - 128 wrong pairs to push apart
    n_train: int = 50_000  # mixed ShapesWorld scenes (one and two objects)


_SMALL = ClipConfig(embed_dim=32, vision_width=32, vision_layers=1, text_width=32, text_heads=2, text_layers=1)
PRESETS = {
    "tiny": Preset(_SMALL, ClipTraining(steps=2, n_train=256)),  # tests
    "smoke": Preset(_SMALL, ClipTraining(steps=20, n_train=512)),  # CI
    "workshop": Preset(ClipConfig(embed_dim=64, vision_width=64, vision_layers=2, text_width=64, text_heads=2,
                                  text_layers=2), ClipTraining(steps=1500, seconds=150, n_train=20000)),
    "full": Preset(ClipConfig(embed_dim=64, vision_width=96, vision_layers=3, text_width=64, text_heads=2,
                              text_layers=2), ClipTraining(steps=8000, seconds=2700)),  # sized to train on a CPU
}


def preset(mode: str) -> Preset:
    """A copy of the named preset (tiny / smoke / workshop / full): ``config, training = preset(mode)``."""
    return pick(PRESETS, mode)


def tokenize(tokenizer, prompts: Sequence[str], context_length: int) -> torch.Tensor:
    """Checked prompts -> token ids (B, context_length).

    open_clip's text tower adds its positional embedding over the full context, so captions are
    padded to that length; the causal mask keeps the padding after ``</s>`` out of the pooled feature."""
    ids, _ = text.encode(tokenizer, list(prompts), max_length=context_length)
    return F.pad(ids, (0, context_length - ids.shape[1]), value=tokenizer.pad_token_id)


def _text_cfg(config: ClipConfig, tokenizer):
    """open_clip's text-tower settings for ``config`` (vocab_size already set) and the caption tokenizer:
    pooled at ``</s>``, padding ignored."""
    from open_clip.model import CLIPTextCfg

    return CLIPTextCfg(context_length=config.context_length, vocab_size=config.vocab_size, width=config.text_width,
                       heads=config.text_heads, layers=config.text_layers, pad_id=tokenizer.pad_token_id,
                       eos_id=tokenizer.eos_token_id, pool_type="eos")


class ShapesCLIP(Checkpointed, nn.Module):
    """open_clip's ``CLIP`` sized for 32×32 ShapesWorld pictures and the caption tokenizer."""

    config_class = ClipConfig  # what ``from_checkpoint`` rebuilds it from

    def __init__(self, config: ClipConfig):
        super().__init__()
        from open_clip.model import CLIP, CLIPVisionCfg

        tokenizer = text.load_tokenizer()
        self.config = dataclasses.replace(config, vocab_size=config.vocab_size or len(tokenizer))
        self.clip = CLIP(
            embed_dim=config.embed_dim,
            vision_cfg=CLIPVisionCfg(layers=config.vision_layers, width=config.vision_width, head_width=32,
                                     patch_size=config.patch_size, image_size=config.image_size),
            text_cfg=_text_cfg(self.config, tokenizer),
        )
        self.tokenizer = tokenizer

    def tokenize(self, prompts: Sequence[str]) -> torch.Tensor:
        """Checked prompts -> token ids (B, context_length) on the model's device."""
        return tokenize(self.tokenizer, prompts, self.config.context_length).to(self.clip.logit_scale.device)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 32, 32) pictures in [0, 1], wherever they are -> unit-length embeddings (B, D) on the
        model's device (as ``tokenize`` puts the prompts there)."""
        return self.clip.encode_image(images.to(self.clip.logit_scale.device) * 2 - 1, normalize=True)

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        """B prompts -> unit-length embeddings (B, D)."""
        return self.clip.encode_text(self.tokenize(prompts), normalize=True)

    def forward(self, images: torch.Tensor, prompts: Sequence[str]):
        """What ``ClipLoss`` takes: image features, text features and the learned temperature."""
        return self.encode_image(images), self.encode_text(prompts), self.clip.logit_scale.exp()


class CaptionEncoder(nn.Module):
    """The text half of ``ShapesCLIP`` on its own: prompts -> unit-length embeddings (B, embed_dim).

    It is open_clip's ``TextTransformer``, built by the same function (``_build_text_tower``) with
    the same settings as ``ShapesCLIP``'s text tower, so the text weights of a trained ShapesCLIP fit
    it (``copy_from``). Other models borrow it as a caption encoder that already knows what captions
    say: GAN-CLS's φ(t) in ``text_gan``, as Reed et al. (2016) pre-trained theirs on pairs of
    pictures and descriptions."""

    def __init__(self, config: ClipConfig):
        super().__init__()
        from open_clip.model import _build_text_tower

        self.tokenizer = text.load_tokenizer()
        self.config = dataclasses.replace(config, vocab_size=config.vocab_size or len(self.tokenizer))
        self.tower = _build_text_tower(config.embed_dim, _text_cfg(self.config, self.tokenizer))

    def forward(self, prompts: Sequence[str]) -> torch.Tensor:
        ids = tokenize(self.tokenizer, prompts, self.config.context_length)
        return F.normalize(self.tower(ids.to(self.tower.positional_embedding.device)), dim=-1)

    def copy_from(self, model: ShapesCLIP) -> "CaptionEncoder":
        """Take the text weights of a trained ShapesCLIP (its configs must agree on the text sizes)."""
        weights = {name.removeprefix("clip."): value for name, value in model.state_dict().items()}
        self.tower.load_state_dict({name: value for name, value in weights.items()  # all but the vision
                                    if not name.startswith(("visual.", "logit_"))})  # tower and temperature
        return self


def contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                     logit_scale: torch.Tensor) -> torch.Tensor:
    """open_clip's ``ClipLoss``: cross-entropy over the batch's similarity matrix, both ways."""
    from open_clip import ClipLoss

    return ClipLoss()(image_features, text_features, logit_scale)


@torch.no_grad()
def relevance(model: ShapesCLIP, images: torch.Tensor, prompts: Sequence[str]) -> torch.Tensor:
    """Relevance scores (B_images, B_prompts): 100 × cosine similarity, the slide's "Score: 31.59"."""
    return SCORE_SCALE * model.encode_image(images) @ model.encode_text(prompts).T


@torch.no_grad()
def rank(model: ShapesCLIP, images: torch.Tensor, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Order ``images`` by relevance to ``prompt``: (indices best first, their scores)."""
    scores = relevance(model, images, [prompt])[:, 0]
    order = scores.argsort(descending=True)
    return order, scores[order]


def zero_shot_prompts(attribute: str) -> dict[str, list[str]]:
    """Label text for zero-shot classification of "color" or "shape": for each class, one prompt per
    value of the other attribute, whose embeddings are averaged (CLIP's prompt ensembling)."""
    if attribute == "color":
        return {c: [f"a {c} {s}" for s in SHAPES] for c in COLOR_NAMES}
    if attribute == "shape":
        return {s: [f"a {c} {s}" for c in COLOR_NAMES] for s in SHAPES}
    raise ValueError(f"zero-shot classification is by 'color' or 'shape', not {attribute!r}")


@torch.no_grad()
def zero_shot_classify(model: ShapesCLIP, images: torch.Tensor, attribute: str) -> list[str]:
    """Classify each picture's colour or shape from label text alone (no classifier was trained)."""
    prompts = zero_shot_prompts(attribute)
    classes = list(prompts)
    weights = torch.stack([F.normalize(model.encode_text(prompts[c]).mean(0), dim=-1) for c in classes])
    best = (model.encode_image(images) @ weights.T).argmax(-1)
    return [classes[i] for i in best]


def train_step(model: ShapesCLIP, optimizer: torch.optim.Optimizer, batch) -> dict[str, float]:
    """One contrastive step on a batch of (pictures, captions)."""
    images, prompts = batch
    loss = contrastive_loss(*model(images.to(model.clip.logit_scale.device), prompts))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        model.clip.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
    return {"clip_loss": loss.item()}


@torch.no_grad()
def zero_shot_accuracy(model: ShapesCLIP, data, attribute: str) -> float:
    """Share of one-object pictures in ``data`` (a ``ShapesDataset``) whose ``attribute`` ("color" or
    "shape") ``zero_shot_classify`` gets right."""
    device = model.clip.logit_scale.device
    guesses = zero_shot_classify(model, data.images.to(device), attribute)
    return sum(g == getattr(s.objects[0], attribute) for g, s in zip(guesses, data.scenes)) / len(guesses)


GALLERY = 100  # pictures among which ``retrieval_r1`` looks for each caption's own


def make_step(model: ShapesCLIP, training: ClipTraining):
    """``step(batch)`` for ``train.fit``: ``train_step`` with AdamW, the learning rate on a cosine
    schedule over ``training``'s budget."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr, weight_decay=training.weight_decay)
    schedule = CosineSchedule(optimizer, training.budget)

    def step(batch):
        losses = train_step(model, optimizer, batch)
        schedule.step()
        return losses
    return step


def train(model: ShapesCLIP, training: ClipTraining, *, callback=None, every: int = 0,
          progress: bool = True) -> tuple[ShapesCLIP, History]:
    """Train ``model`` (fresh: ``ShapesCLIP(config)``) on mixed ShapesWorld captions within
    ``training``'s budget, seeded by ``training.seed``; returns it (in eval mode) and its history."""
    from . import datasets

    data = datasets.ShapesDataset(training.n_train, kind="mixed", seed=training.seed)
    with seeded(training.seed):
        history = fit(make_step(model.train(), training), datasets.loader(data, training.batch_size, seed=training.seed),
                      training.budget, desc="CLIP", every=every, callback=callback, progress=progress,
                      device=device_of(model))
    return model.eval(), history


@torch.no_grad()
def retrieval_r1(model: ShapesCLIP, n: int = 1000) -> float:
    """Share of ``n`` (varied) captions whose best-scoring picture, in a gallery of ``GALLERY`` mixed
    scenes, shows what they say (a caption that leaves size or position open fits more than its own
    scene): text -> picture recall at 1."""
    from . import datasets

    device, hits = model.clip.logit_scale.device, []
    for gallery in range(max(1, n // GALLERY)):
        data = datasets.ShapesDataset(min(n, GALLERY), kind="mixed", seed=eval_sets.RETRIEVAL_SEED + gallery)
        best = relevance(model, data.images.to(device), data.captions).argmax(0).cpu()  # (captions,)
        hits += [oracle.matches(data.scenes[int(i)], captions.parse(caption)) for i, caption in zip(best, data.captions)]
    return sum(hits) / len(hits)


def evaluate(model: ShapesCLIP, n: int = 1000) -> dict[str, float]:
    """Zero-shot colour and shape accuracy on ``n`` one-object pictures, and text -> picture R@1."""
    from . import datasets

    one = datasets.ShapesDataset(n, kind="one", seed=eval_sets.ZERO_SHOT_SEED)
    return {**{f"zeroshot_{a}": zero_shot_accuracy(model, one, a) for a in ("color", "shape")},
            "retrieval_r1": retrieval_r1(model, n)}

"""Self-checks for notebooks 01_vanilla_gan and 02_text_conditional_gan: the GAN losses, coverage
and caption accuracy of what a generator draws."""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .. import captions, oracle, shapes
from .harness import compare, logits_of


# --- notebook 01: vanilla GAN -------------------------------------------------------------------

def saturating_generator_loss(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 01, exercise 1: ``fn(fake_logits)`` = mean of log(1 - D(G(z))), D = sigmoid(logits)."""
    import torch.nn.functional as F

    cases = [(f"fake_logits {t.tolist()}", (t,)) for t in (logits_of(0.0), logits_of(-6.0, 0.0, 3.0), logits_of(2.0, -1.0))]
    return compare("saturating_generator_loss", fn, lambda logits: F.logsigmoid(-logits).mean(), cases)


def colour_shape_size_coverage(fn: Callable[[torch.Tensor], float]) -> bool:
    """Notebook 01, exercise 2: share of the training split's (colour, shape, size) triples shown."""
    universe = sorted({(o.color, o.shape, o.size) for s in shapes.all_one_object_scenes("train") for o in s.objects})

    def reference(images):
        return oracle.coverage([r.scene for r in oracle.read(images)], lambda o: (o.color, o.shape, o.size), universe)

    few, many = shapes.sample_scenes(5, seed=4, kind="one"), shapes.all_one_object_scenes("train")
    cases = [("5 one-object pictures", (shapes.render(few),)), ("every training picture", (shapes.render(many),)),
             ("4 all-black pictures", (torch.zeros(4, 3, 32, 32),))]
    return compare("colour_shape_size_coverage", fn, reference, cases, tolerance=1e-9)


def truncated_samples(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 01, exercise 3: ``fn(model, n, scale, seed)`` decodes ``scale`` × the noise of ``seed``."""
    from .. import gan

    model = gan.GAN(gan.preset("tiny").config).eval()

    def reference(model, n, scale, seed):
        return model.sample(n, z=scale * model.noise(n, seed=seed))

    cases = [(f"a tiny GAN, n={n}, scale={scale}, seed={seed}", (model, n, scale, seed))
             for n, scale, seed in ((4, 1.0, 0), (3, 0.5, 2), (2, 0.0, 1))]
    return compare("truncated_samples", fn, reference, cases)


# --- notebook 02: text-conditional GAN ----------------------------------------------------------

def plain_conditional_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 02, exercise 1: the conditional D's loss without wrong pairs, -log D(real) - log(1 - D(fake))."""
    from .. import gan

    cases = [(f"s_r {r.tolist()}, s_f {f.tolist()}", (r, f))
             for r, f in ((logits_of(0.0), logits_of(0.0)), (logits_of(2.0, -1.0), logits_of(-3.0, 0.5)))]
    return compare("plain_conditional_loss", fn, gan.discriminator_loss, cases)


def attribute_accuracy(fn: Callable[[torch.Tensor, Sequence[str], str], float]) -> bool:
    """Notebook 02, exercise 2: share of pictures whose one object has the caption's ``attribute``."""
    scenes = shapes.sample_scenes(12, seed=5, kind="one")
    pictures, prompts = shapes.render(scenes), [captions.describe(s) for s in scenes]
    shifted = prompts[1:] + prompts[:1]

    def reference(images, texts, attribute):
        return sum(r.scene is not None and getattr(r.scene.objects[0], attribute) ==
                   getattr(captions.parse(p).objects[0], attribute) for r, p in zip(oracle.read(images), texts)) / len(texts)

    cases = [(f"12 pictures, {which} captions, attribute {a!r}", (pictures, texts, a))
             for which, texts in (("their own", prompts), ("shifted", shifted)) for a in ("shape", "color", "size", "cell")]
    cases.append(("12 all-black pictures, attribute 'shape'", (torch.zeros(12, 3, 32, 32), prompts, "shape")))
    return compare("attribute_accuracy", fn, reference, cases, tolerance=1e-9)


class _DrawsCaptions:
    """A stand-in text-to-image model that draws, for each prompt, the scene of the prompt ``shift`` places on."""

    def __init__(self, scenes: Sequence[shapes.Scene], shift: int = 0):
        self.pictures = {captions.describe(s): p for s, p in zip(scenes, shapes.render(list(scenes)))}
        self.shift = shift

    def sample(self, prompts: Sequence[str], seed: int | None = 0, z=None) -> torch.Tensor:
        prompts = list(prompts)
        return torch.stack([self.pictures[prompts[(i + self.shift) % len(prompts)]] for i in range(len(prompts))])


def shuffled_accuracy(fn: Callable[..., float]) -> bool:
    """Notebook 02, exercise 3: caption accuracy of ``model.sample(prompts, seed=1)`` against each
    picture's *next* caption."""
    scenes = shapes.sample_scenes(10, seed=6, kind="one")
    prompts = [captions.describe(s) for s in scenes]

    def reference(model, prompts):
        return oracle.caption_accuracy(model.sample(prompts, seed=1), prompts[1:] + prompts[:1])

    cases = [("a model that draws every caption right, 10 prompts", (_DrawsCaptions(scenes), prompts)),
             ("a model that draws each prompt's next caption, 10 prompts", (_DrawsCaptions(scenes, 1), prompts))]
    return compare("shuffled_accuracy", fn, reference, cases, tolerance=1e-9)

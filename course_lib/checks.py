"""Self-checks for the exercises: run the learner's code against the reference on small cases.

A check answers in one line, never with a stack trace, and returns True or False (it never raises):

- ``✓ count_colours: right on 9 cases`` when the code agrees with the reference;
- ``✗ count_colours: not done yet: ...`` while the code still says ``raise NotImplementedError``;
- ``✗ count_colours: for the picture of 'a red circle' it returned 2; expected 1`` when it is wrong,
  naming the input, what came back and what was expected;
- ``✗ count_colours: your code raised ValueError: ...`` when it fails.

A notebook's check cell is ``assert checks.count_colours(count_colours), "see the hint above"``:
the hint is what the learner reads, and the failed assert is what nbgrader grades.

``pipeline_accuracy`` and ``pipeline_part`` measure a Dall·E Mini pipeline with a part of the
learner's own swapped in (notebook 09): the oracle's caption accuracy of the best-ranked pictures.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from . import captions, oracle, shapes

NOT_DONE = "not done yet: write your code where it says raise NotImplementedError"


class _Hint(Exception):
    """What to tell the learner; raised inside a check, caught by ``_attempt``."""


def _call(fn: Callable, *args, call: str):
    """Call the learner's ``fn``; any failure becomes a hint naming the call."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise _Hint(NOT_DONE) from None
    except Exception as error:  # the learner's code may fail in any way: say how, in one line
        raise _Hint(f"{call} raised {type(error).__name__}: {error}") from None


def _attempt(name: str, run: Callable[[], str]) -> bool:
    """Run one check: ``run`` returns what to say on success, or raises ``_Hint``."""
    try:
        success = run()
    except _Hint as hint:
        print(f"✗ {name}: {hint}")
        return False
    except Exception as error:  # a check must never raise, even on input it did not foresee
        print(f"✗ {name}: the check could not run ({type(error).__name__}: {error}); "
              "is the argument the function the exercise asks for?")
        return False
    print(f"✓ {name}: {success}")
    return True


def _same(got, expected, tolerance: float) -> bool:
    if isinstance(expected, tuple):
        return isinstance(got, (tuple, list)) and len(got) == len(expected) and \
            all(_same(g, e, tolerance) for g, e in zip(got, expected))
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == expected.shape and \
            torch.allclose(got.detach().float(), expected.float(), atol=tolerance)
    if isinstance(expected, float):
        return isinstance(got, (int, float, torch.Tensor)) and abs(float(got) - expected) <= tolerance
    return got == expected


def _show(value) -> str:
    if isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{value.item():.4g}"
        if value.numel() <= 8:
            return f"{[round(v, 4) if isinstance(v, float) else v for v in value.flatten().tolist()]} (shape {tuple(value.shape)})"
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def _gap(got, expected) -> str:
    """Where two same-shaped tensors (or tuples of them) differ, when their values are too many to show."""
    pairs = list(zip(got, expected)) if isinstance(expected, tuple) and isinstance(got, (tuple, list)) else [(got, expected)]
    for k, (g, e) in enumerate(pairs):
        if isinstance(g, torch.Tensor) and isinstance(e, torch.Tensor) and g.shape == e.shape and e.numel() > 8:
            diff = (g.detach().float() - e.float()).abs()
            if diff.max() > 0 or g.dtype != e.dtype:
                which = f" (item {k + 1} of the tuple)" if len(pairs) > 1 else ""
                return (f"; the shapes agree{which} but {int((diff > 1e-5).sum())} of {e.numel()} values differ, "
                        f"by up to {diff.max().item():.4g}")
    return ""


def _compare(name: str, fn: Callable, reference: Callable, cases: list[tuple[str, tuple]],
             tolerance: float = 1e-5) -> bool:
    """Check ``fn(*args) == reference(*args)`` on each ``(what, args)`` case, naming the first miss."""

    def run():
        for what, args in cases:
            got = _call(fn, *args, call=f"{name}({what})")
            expected = reference(*args)
            if not _same(got, expected, tolerance):
                raise _Hint(f"for {what} it returned {_show(got)}; expected {_show(expected)}{_gap(got, expected)}")
        return f"right on {len(cases)} cases"

    return _attempt(name, run)


def _logits(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


# --- notebook 00: ShapesWorld ------------------------------------------------------------------

def _count_colours_reference(picture: torch.Tensor) -> int:
    cover = oracle.colour_coverage(picture)[0]  # (6 colours, H, W)
    return int((cover.flatten(1).sum(1) >= oracle.MIN_MASS).sum())


def count_colours(fn: Callable[[torch.Tensor], int]) -> bool:
    """Notebook 00, exercise 1: ``fn(picture (3, 32, 32))`` counts palette colours covering ≥ 10 pixels."""
    scenes = shapes.sample_scenes(4, seed=3, kind="one") + shapes.sample_scenes(4, seed=3, kind="two")
    cases = [(f"the picture of {captions.describe(s)!r}", (p,)) for s, p in zip(scenes, shapes.render(scenes))]
    cases.append(("an all-black picture", (torch.zeros(3, 32, 32),)))
    return _compare("count_colours", lambda picture: fn(picture.clone()), _count_colours_reference, cases)


def scene_by_hand(fn: Callable[[], shapes.Scene],
                  caption: str = "a small green diamond to the right of a big red square") -> bool:
    """Notebook 00, exercise 2: ``fn()`` returns a ``shapes.Scene`` whose picture shows ``caption``."""

    def run():
        scene = _call(fn, call="your function")
        if not isinstance(scene, shapes.Scene):
            raise _Hint(f"it returned {scene!r}; expected a shapes.Scene(...) made of shapes.Obj(...)")
        reading = oracle.read(shapes.render([scene]))[0]
        if not oracle.matches(reading.scene, captions.parse(caption)):
            shown = captions.describe(scene)
            raise _Hint(f"your scene shows {shown!r}; the caption asks for {caption!r}")
        return f"the oracle reads {captions.describe(scene)!r}"

    return _attempt("scene_by_hand", run)


# --- notebooks 01-02: GANs ------------------------------------------------------

def saturating_generator_loss(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 01, exercise 1: ``fn(fake_logits)`` = mean of log(1 - D(G(z))), D = sigmoid(logits)."""
    import torch.nn.functional as F

    cases = [(f"fake_logits {t.tolist()}", (t,)) for t in (_logits(0.0), _logits(-6.0, 0.0, 3.0), _logits(2.0, -1.0))]
    return _compare("saturating_generator_loss", fn, lambda logits: F.logsigmoid(-logits).mean(), cases)


def colour_shape_size_coverage(fn: Callable[[torch.Tensor], float]) -> bool:
    """Notebook 01, exercise 2: share of the training split's (colour, shape, size) triples shown."""
    universe = sorted({(o.color, o.shape, o.size) for s in shapes.all_one_object_scenes("train") for o in s.objects})

    def reference(images):
        return oracle.coverage([r.scene for r in oracle.read(images)], lambda o: (o.color, o.shape, o.size), universe)

    few, many = shapes.sample_scenes(5, seed=4, kind="one"), shapes.all_one_object_scenes("train")
    cases = [("5 one-object pictures", (shapes.render(few),)), ("every training picture", (shapes.render(many),)),
             ("4 all-black pictures", (torch.zeros(4, 3, 32, 32),))]
    return _compare("colour_shape_size_coverage", fn, reference, cases, tolerance=1e-9)


def truncated_samples(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 01, exercise 3: ``fn(model, n, scale, seed)`` decodes ``scale`` × the noise of ``seed``."""
    from . import gan

    model = gan.GAN(gan.preset("tiny")).eval()

    def reference(model, n, scale, seed):
        return model.sample(n, z=scale * model.noise(n, seed=seed))

    cases = [(f"a tiny GAN, n={n}, scale={scale}, seed={seed}", (model, n, scale, seed))
             for n, scale, seed in ((4, 1.0, 0), (3, 0.5, 2), (2, 0.0, 1))]
    return _compare("truncated_samples", fn, reference, cases)


def plain_conditional_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 02, exercise 1: the conditional D's loss without wrong pairs, -log D(real) - log(1 - D(fake))."""
    from . import gan

    cases = [(f"s_r {r.tolist()}, s_f {f.tolist()}", (r, f))
             for r, f in ((_logits(0.0), _logits(0.0)), (_logits(2.0, -1.0), _logits(-3.0, 0.5)))]
    return _compare("plain_conditional_loss", fn, gan.discriminator_loss, cases)


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
    return _compare("attribute_accuracy", fn, reference, cases, tolerance=1e-9)


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
    return _compare("shuffled_accuracy", fn, reference, cases, tolerance=1e-9)


# --- notebooks 03-04: autoencoders and VAEs ----------------------------------------------------

def _tiny_autoencoder(latent_dim: int, vae: bool = False):
    from . import autoencoder

    config_cls, model_cls = (autoencoder.VAEConfig, autoencoder.VAE) if vae else (autoencoder.AEConfig, autoencoder.Autoencoder)
    return model_cls(config_cls(latent_dim=latent_dim, width=4, hidden=16, seed=1)).eval()


def interpolate(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 03, exercise 1: ``fn(model, a, b, steps)`` decodes ``steps`` points from e(a) to e(b)."""
    model = _tiny_autoencoder(3)
    pictures = shapes.render(shapes.sample_scenes(3, seed=8, kind="one"))

    @torch.no_grad()
    def reference(model, a, b, steps):
        za, zb = model.encode(torch.stack([a, b]))
        t = torch.linspace(0, 1, steps).unsqueeze(1)
        return model.decode((1 - t) * za + t * zb)

    cases = [(f"a tiny autoencoder, pictures {i} and {j}, steps={steps}", (model, pictures[i], pictures[j], steps))
             for i, j, steps in ((0, 1, 8), (1, 2, 2), (2, 0, 5))]
    return _compare("interpolate", fn, reference, cases)


class _HalfPlaneDecoder(torch.nn.Module):
    """A stand-in 2-D decoder: a red circle where z's first number is above ``edge``, black elsewhere."""

    def __init__(self, edge: float):
        super().__init__()
        self.edge = torch.nn.Parameter(torch.tensor(float(edge)), requires_grad=False)
        self.picture = shapes.render([shapes.Scene((shapes.Obj("circle", "red", "big", 4),))])[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z[:, :1, None, None] > self.edge).float() * self.picture


def grid_validity(fn: Callable[..., float]) -> bool:
    """Notebook 03, exercise 2: the share of ``latent_grid(model, points, n)``'s decodes that are valid."""
    from . import autoencoder

    def reference(model, points, n):
        return oracle.validity(autoencoder.latent_grid(model, points, n)[1])

    square, wide = torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), torch.tensor([[0.0, 0.0], [3.0, 0.5], [1.0, -2.0]])
    cases = [(f"a decoder valid where z[0] > {edge}, points {points.tolist()}, n={n}", (_HalfPlaneDecoder(edge), points, n))
             for edge, points, n in ((0.0, square, 4), (0.5, square, 5), (2.0, wide, 3))]
    return _compare("grid_validity", fn, reference, cases, tolerance=1e-9)


def vae_loss(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 04, exercise 1: ``fn(model, images, beta, generator)`` = reconstruction + beta * KL."""
    from . import autoencoder

    model = _tiny_autoencoder(2, vae=True)
    images = shapes.render(shapes.sample_scenes(4, seed=9, kind="one"))

    def reference(model, images, beta, seed):
        mu, logvar = model.encode(images)
        z = autoencoder.reparameterize(mu, logvar, torch.Generator().manual_seed(seed))
        return autoencoder.reconstruction_loss(model.decoder(z), images) + beta * autoencoder.kl_divergence(mu, logvar)

    cases = [(f"a tiny VAE, 4 pictures, beta={beta}, generator seeded {seed}", (model, images, beta, seed))
             for beta, seed in ((1.0, 0), (4.0, 0), (0.0, 3))]
    return _compare("vae_loss", lambda m, x, beta, seed: fn(m, x, beta, torch.Generator().manual_seed(seed)),
                    reference, cases, tolerance=1e-4)


def sample_with_temperature(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 04, exercise 2: ``fn(model, n, t, generator)`` decodes t × eps, eps ~ N(0, I) (n, latent_dim)."""
    model = _tiny_autoencoder(2, vae=True)

    @torch.no_grad()
    def reference(model, n, t, seed):
        return model.decode(t * torch.randn(n, model.config.latent_dim, generator=torch.Generator().manual_seed(seed)))

    cases = [(f"a tiny VAE, n={n}, t={t}, generator seeded {seed}", (model, n, t, seed))
             for n, t, seed in ((4, 1.0, 5), (3, 0.5, 0), (2, 2.0, 1))]
    return _compare("sample_with_temperature", lambda m, n, t, seed: fn(m, n, t, torch.Generator().manual_seed(seed)),
                    reference, cases, tolerance=1e-5)


# --- notebooks 05-06: VQ-VAE and VQ-GAN -------------------------------------------------------

def perplexity(fn: Callable[[torch.Tensor, int], float]) -> bool:
    """Notebook 05, exercise 1: exp of the entropy of the code frequencies in ``ids``."""
    from . import vq

    generator = torch.Generator().manual_seed(0)
    cases = [("ids all 3, k=8", (torch.full((2, 4, 4), 3), 8)), ("ids 0..15 once each, k=16", (torch.arange(16), 16)),
             ("random ids in 0..9, k=256", (torch.randint(0, 10, (4, 8, 8), generator=generator), 256))]
    return _compare("perplexity", fn, vq.perplexity, cases, tolerance=1e-3)


def _vq_reference(z_e: torch.Tensor, codebook: torch.Tensor, beta: float):
    from . import vq

    layer = vq.VectorQuantizer(*codebook.shape, beta=beta).eval()
    out = torch.func.functional_call(layer, {"codebook": codebook}, (z_e,))  # gradients reach ``codebook``
    return out.z_q, out.ids, out.loss


def vq_layer(fn: Callable[..., tuple]) -> bool:
    """Notebook 05, exercise 2: ``fn(z_e (B, D, H, W), codebook (K, D), beta)`` -> (z_q, ids, loss) as
    ``vq.VectorQuantizer``: nearest codes, the straight-through gradient, codebook + beta × commitment loss."""
    generator = torch.Generator().manual_seed(0)
    cases = [(f"z_e {shape}, codebook ({k}, {shape[1]}), beta={beta}",
              torch.randn(*shape, generator=generator), torch.randn(k, shape[1], generator=generator), beta)
             for shape, k, beta in (((1, 2, 2, 2), 4, 0.25), ((2, 3, 4, 4), 8, 2.0))]

    def run():
        for what, z_e, codebook, beta in cases:
            z, e = z_e.clone().requires_grad_(), codebook.clone().requires_grad_()
            got = _call(fn, z, e, beta, call=f"your function on {what}")
            z_ref, e_ref = z_e.clone().requires_grad_(), codebook.clone().requires_grad_()
            expected = _vq_reference(z_ref, e_ref, beta)
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise _Hint(f"for {what} it returned {_show(got)}; expected three things: (z_q, ids, loss)")
            for name, g, x, tol in zip(("z_q", "ids", "loss"), got, expected, (1e-5, 0, 1e-5)):
                if not _same(g, x, tol) or (name == "ids" and g.dtype != torch.long):
                    raise _Hint(f"for {what} its {name} was {_show(g)}; expected {_show(x)}{_gap(g, x)}")
            weights = torch.randn(z_e.shape, generator=generator)
            for name, out, ref in (("z_q", got[0], expected[0]), ("loss", got[2], expected[2])):
                w = weights if name == "z_q" else 1.0
                grads = torch.autograd.grad((out * w).sum(), (z, e), allow_unused=True)
                grads_ref = torch.autograd.grad((ref * w).sum(), (z_ref, e_ref), allow_unused=True)
                for wrt, g, x in zip(("z_e", "the codebook"), grads, grads_ref):
                    if g is None and x is None:
                        continue
                    g = torch.zeros_like(x) if g is None else g
                    x = torch.zeros_like(g) if x is None else x
                    if not torch.allclose(g, x, atol=1e-5):
                        hint = (" (the straight-through estimator passes z_q's gradient to z_e unchanged)"
                                if name == "z_q" else " (codebook loss moves the codes, beta × commitment the encoder)")
                        raise _Hint(f"for {what} the gradient of {name} with respect to {wrt} is wrong: it differs "
                                    f"from the reference by up to {(g - x).abs().max().item():.4g}{hint}")
        return f"right on {len(cases)} cases, values and gradients"

    return _attempt("vq_layer", run)


def token_budget(fn: Callable[..., tuple]) -> bool:
    """Notebook 05, exercise 3: ``fn(n_tokens, codebook_size, height, width)`` -> (bits in one token grid,
    how many times fewer than the raw 8-bit RGB picture)."""
    import math

    def reference(n_tokens, codebook_size, height, width):
        bits = n_tokens * math.log2(codebook_size)
        return bits, height * width * 3 * 8 / bits

    cases = [(f"{label}: {n} tokens of {k} codes for {h}×{w} pictures", (n, k, h, w))
             for label, n, k, h, w in (("our VQ-VAE", 64, 256, 32, 32), ("DALL·E's dVAE", 1024, 8192, 256, 256),
                                       ("Dall·E Mini's VQGAN", 256, 16384, 256, 256), ("a 16-code toy", 16, 16, 8, 8))]
    return _compare("token_budget", fn, reference, cases, tolerance=1e-6)


def hinge_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 06, exercise 1: the discriminator's hinge loss, as ``vqgan.hinge_d_loss``."""
    from . import vqgan

    generator = torch.Generator().manual_seed(0)
    patches = torch.randn(2, 2, 1, 8, 8, generator=generator)
    cases = [("real 0, fake 0", (_logits(0.0), _logits(0.0))), ("real 2, fake -2 (no loss)", (_logits(2.0), _logits(-2.0))),
             ("random patch logits (2, 1, 8, 8)", (patches[0], patches[1]))]
    return _compare("hinge_loss", fn, vqgan.hinge_d_loss, cases)


def _adaptive_case(seed: int):
    """A last layer and two losses built on it (fresh graphs each call)."""
    generator = torch.Generator().manual_seed(seed)
    layer = torch.randn(4, 3, generator=generator).requires_grad_()
    a, b = torch.randn(4, 3, generator=generator), torch.randn(4, 3, generator=generator)
    rec = (layer * a).pow(2).sum()
    gan_loss = -(layer * b).sum() * (0.0 if seed == 2 else 10.0 ** (seed - 1))
    return rec, gan_loss, layer


def adaptive_weight(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 06, exercise 2: ``fn(rec_loss, gan_loss, last_layer)`` = ||∇L_rec|| / (||∇L_GAN|| + 1e-4)
    at the last layer, clamped to [0, 1e4], as ``vqgan.adaptive_weight``."""
    from . import vqgan

    cases = [(f"losses on a (4, 3) last layer, {what}", (seed,))
             for seed, what in ((0, "a weak GAN loss"), (1, "comparable losses"), (3, "a strong GAN loss"),
                                (2, "a GAN loss with no gradient (the clamp)"))]
    return _compare("adaptive_weight", lambda seed: fn(*_adaptive_case(seed)),
                    lambda seed: vqgan.adaptive_weight(*_adaptive_case(seed)), cases, tolerance=1e-3)


def _tiny_tokenizer():
    from .vqvae import VQVAE, VQVAEConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return VQVAE(VQVAEConfig.preset("smoke", channels=8, code_dim=4, codebook_size=16)).eval()


def round_trip(fn: Callable[..., float]) -> bool:
    """Notebook 06, exercise 3: ``fn(model, images)`` = share of tokens that come back the same after
    encode, decode, encode."""
    model = _tiny_tokenizer()
    scenes = shapes.sample_scenes(6, seed=10, kind="mixed")
    pictures = shapes.render(scenes)

    def reference(model, images):
        first = model.encode(images)
        return (first == model.encode(model.decode(first))).float().mean().item()

    cases = [(f"a tiny random tokenizer, {n} pictures", (model, pictures[:n])) for n in (6, 1)]
    cases.append(("a tiny random tokenizer, 2 black pictures", (model, torch.zeros(2, 3, 32, 32))))
    return _compare("round_trip", fn, reference, cases, tolerance=1e-6)


# --- notebook 07: BART ---------------------------------------------------------------------------

def top_k(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """Notebook 07, exercise 1: ``fn(logits, k)`` keeps the k largest logits of each row, the rest -inf."""
    from . import bart

    generator = torch.Generator().manual_seed(0)
    logits, batched = torch.randn(4, 16, generator=generator), torch.randn(2, 3, 10, generator=generator)
    cases = [(f"logits {tuple(x.shape)}, k={k}", (x, k)) for x, k in ((logits, 1), (logits, 5), (logits, 16), (batched, 3))]
    cases.append(("logits [[3.0, 1.0, 2.0, 0.0]], k=2", (torch.tensor([[3.0, 1.0, 2.0, 0.0]]), 2)))
    return _compare("top_k", lambda x, k: fn(x.clone(), k), bart.filter_top_k, cases)


def next_code_probs(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 07, exercise 2: ``fn(cond, uncond, scale, temperature, k)``: guidance mix, / temperature,
    top-k, softmax."""
    from . import bart

    def reference(cond, uncond, scale, temperature, k):
        return bart.filter_top_k(bart.guide(cond, uncond, scale) / temperature, k).softmax(-1)

    generator = torch.Generator().manual_seed(1)
    cond, uncond = torch.randn(2, 3, 16, generator=generator).unbind(0)
    cases = [(f"cond, uncond (3, 16), scale={s}, temperature={t}, k={k}", (cond, uncond, s, t, k))
             for s, t, k in ((1.0, 1.0, 16), (3.0, 0.7, 10), (0.0, 2.0, 4), (5.0, 0.5, 1))]
    return _compare("next_code_probs", fn, reference, cases, tolerance=1e-6)


def decoder_inputs(fn: Callable[..., torch.Tensor]) -> bool:
    """Notebook 07, exercise 3: ``fn(model, codes)`` = <image>, then the codes shifted right, as vocabulary ids."""
    import types

    from . import bart

    generator = torch.Generator().manual_seed(2)
    cases = [(f"codes {tuple(codes.shape)} with image_offset={offset}, image_bos={bos}",
              (types.SimpleNamespace(image_offset=offset, image_bos=bos), codes))
             for codes, offset, bos in ((torch.randint(0, 16, (3, 6), generator=generator), 40, 56),
                                        (torch.tensor([[5, 0, 2, 7]]), 10, 18))]
    return _compare("decoder_inputs", lambda model, codes: fn(model, codes.clone()),
                    bart.CaptionToImageBart.decoder_inputs, cases)


# --- notebook 08: CLIP ---------------------------------------------------------------------------

def _unit(*shape, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def zero_shot(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 08, exercise 1: ``fn(image_features (B, D), class_features (C, D))`` -> best class index (B,)."""
    cases = [(f"image_features ({b}, 8), class_features ({c}, 8)", (_unit(b, 8, seed=b), _unit(c, 8, seed=10 + c)))
             for b, c in ((6, 4), (5, 6), (1, 2))]
    return _compare("zero_shot", fn, lambda images, classes: (images @ classes.T).argmax(-1), cases)


def rank_scores(fn: Callable[[torch.Tensor], tuple]) -> bool:
    """Notebook 08, exercise 2: ``fn(scores (N,))`` -> (indices best first, their scores), as ``clip.rank``."""
    def reference(scores):
        order = scores.argsort(descending=True)
        return order, scores[order]

    cases = [("scores [31.6, 12.0, 28.4]", (torch.tensor([31.6, 12.0, 28.4]),)),
             ("8 random scores", (torch.randn(8, generator=torch.Generator().manual_seed(3)) * 10,)),
             ("one score [5.0]", (torch.tensor([5.0]),))]
    return _compare("rank_scores", lambda scores: fn(scores.clone()), reference, cases)


def relevance(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Notebook 08, exercise 3: ``fn(raw_image (B, D), raw_text (P, D))`` -> 100 × cosine (B, P), from raw features."""
    from . import clip

    def reference(raw_image, raw_text):
        F = torch.nn.functional
        return clip.SCORE_SCALE * F.normalize(raw_image, dim=-1) @ F.normalize(raw_text, dim=-1).T

    generator = torch.Generator().manual_seed(4)
    cases = [(f"raw_image ({b}, 6), raw_text ({p}, 6)",
              (3 * torch.randn(b, 6, generator=generator), 0.5 * torch.randn(p, 6, generator=generator)))
             for b, p in ((4, 3), (2, 1), (1, 5))]
    return _compare("relevance", fn, reference, cases, tolerance=1e-3)


# --- notebook 09: swap in your own part ---------------------------------------------------------

def pipeline_accuracy(pipeline, prompts: Sequence[str], n: int = 8, seed: int = 0) -> dict[str, float]:
    """Oracle caption accuracy of a pipeline over ``prompts``: of the best-ranked picture of each
    prompt (``best``), and of all ``n`` candidates (``all``). The gap is what the ranker adds."""
    best, every = [], []
    for i, prompt in enumerate(prompts):
        drawing = pipeline.draw(prompt, n, seed=seed + i)
        right = oracle.caption_correct(drawing.images, [prompt] * n)
        best.append(right[0])
        every.extend(right)
    return {"best": sum(best) / len(best), "all": sum(every) / len(every)}


def _probe_parts(pipeline) -> None:
    """Call the swappable parts on tiny inputs, so a wrong shape is named before the full draw."""
    codes = torch.zeros(2, 8, 8, dtype=torch.long)
    device = next(pipeline.image_tokenizer.parameters()).device
    pictures = _call(pipeline.image_tokenizer.decode, codes.to(device), call="image_tokenizer.decode(codes (2, 8, 8))")
    if not isinstance(pictures, torch.Tensor) or tuple(pictures.shape) != (2, 3, 32, 32):
        shape = tuple(pictures.shape) if isinstance(pictures, torch.Tensor) else type(pictures).__name__
        raise _Hint(f"image_tokenizer.decode(codes (2, 8, 8)) gave {shape}; expected pictures (2, 3, 32, 32)")
    scores = _call(pipeline.ranker, pictures.float(), "a red circle", call="ranker(pictures (2, 3, 32, 32), prompt)")
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (2,):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise _Hint(f"ranker(pictures (2, 3, 32, 32), prompt) gave {shape}; expected one score per picture (2,)")


def pipeline_part(pipeline, prompts: Sequence[str], n: int = 8, seed: int = 0, at_least: float = 0.0) -> bool:
    """Notebook 09: run a pipeline with a part of your own swapped in and report its caption accuracy;
    passes when the best-ranked pictures are right at least ``at_least`` of the time."""

    def run():
        _probe_parts(pipeline)
        score = _call(lambda: pipeline_accuracy(pipeline, prompts, n, seed), call="pipeline.draw")
        verdict = (f"caption accuracy {score['best']:.0%} for the best-ranked pictures, "
                   f"{score['all']:.0%} over all {n} candidates of {len(prompts)} prompts")
        if score["best"] < at_least:
            raise _Hint(f"{verdict}; the exercise asks for at least {at_least:.0%}")
        return verdict

    return _attempt("pipeline_part", run)


def tiny_pipeline():
    """A Dall·E Mini pipeline from tiny random-weight parts (seeded): builds and draws in a blink, for
    checking plumbing, not pictures."""
    import dataclasses

    from . import bart, clip, dalle_mini
    from .vqvae import VQVAE, VQVAEConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        translator = bart.CaptionToImageBart(dataclasses.replace(bart.PRESETS["tiny"], image_tokens=64)).eval()
        image_tokenizer = VQVAE(VQVAEConfig.preset("smoke", codebook_size=16)).eval()
        ranker = clip.ShapesCLIP(clip.PRESETS["tiny"]).eval()
    return dalle_mini.Pipeline(translator, image_tokenizer, dalle_mini.clip_ranker(ranker))


def ranker(fn: Callable[[torch.Tensor, str], torch.Tensor]) -> bool:
    """Notebook 09, exercise 1: ``fn(pictures (N, 3, 32, 32), prompt)`` -> one score per picture (N,),
    with the picture that shows the prompt first among candidates that differ from it in colour."""
    def obj(shape, color, size="big", cell=4):
        return shapes.Obj(shape, color, size, cell)

    one = lambda *objects: shapes.Scene(tuple(objects))  # noqa: E731
    cases = [("a big red circle in the middle", 1, [one(obj("circle", "blue")), one(obj("circle", "red")),
                                                     one(obj("square", "green"))]),
             ("a small yellow square", 0, [one(obj("square", "yellow", "small", 0)), one(obj("square", "cyan", "small", 0)),
                                            one(obj("square", "purple", "small", 0)), one(obj("circle", "blue", "small", 0))]),
             ("a green triangle above a blue circle", 2,
              [one(obj("triangle", "red", "small", 1), obj("circle", "blue", "small", 7)),
               one(obj("triangle", "green", "small", 1), obj("circle", "yellow", "small", 7)),
               one(obj("triangle", "green", "small", 1), obj("circle", "blue", "small", 7))])]

    def run():
        for prompt, right, scenes in cases:
            pictures = shapes.render(scenes)
            scores = _call(fn, pictures.clone(), prompt, call=f"your ranker on {len(scenes)} pictures for {prompt!r}")
            if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (len(scenes),):
                shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
                raise _Hint(f"for {len(scenes)} pictures and {prompt!r} it returned {shape}; "
                            f"expected one score per picture ({len(scenes)},)")
            best = int(scores.float().argmax())
            if best != right or (scores.float() == scores.float()[right]).sum() > 1:
                raise _Hint(f"for {prompt!r} it scored the pictures {[round(float(v), 3) for v in scores]}: the best is "
                            f"{captions.describe(scenes[best])!r}; expected {captions.describe(scenes[right])!r} "
                            "strictly first")
        return f"the right picture first in {len(cases)} cases"

    return _attempt("ranker", run)


class _GreyPatches(torch.nn.Module):
    """A stand-in image tokenizer: code c of 16 becomes a 4×4 patch of grey c / 15."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        grey = (codes.float() / 15).repeat_interleave(4, 1).repeat_interleave(4, 2)  # (N, 32, 32)
        return grey[:, None].expand(-1, 3, -1, -1).clone()


def draw_by_hand(fn: Callable[..., tuple]) -> bool:
    """Notebook 09, exercise 2: ``fn(pipeline, prompt, n, seed)`` -> (pictures best first, scores best first),
    the same as ``pipeline.draw(prompt, n, seed=seed)``: BART samples, the tokenizer decodes, the ranker sorts."""
    import dataclasses

    from . import bart, dalle_mini

    # a tiny random translator; tiny random tokenizer and CLIP would draw black pictures that score alike,
    # so a tokenizer that shows each code as the grey of its patch and a ranker by contrast stand in
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        translator = bart.CaptionToImageBart(dataclasses.replace(bart.PRESETS["tiny"], image_tokens=64)).eval()
    pipeline = dalle_mini.Pipeline(translator, _GreyPatches(), lambda pictures, prompt: pictures.flatten(1).std(1))

    def reference(pipeline, prompt, n, seed):
        drawing = pipeline.draw(prompt, n, seed=seed)
        return drawing.images, drawing.scores

    cases = [(f"a tiny random pipeline, {prompt!r}, n={n}, seed={seed}{what}", (p, prompt, n, seed))
             for p, what, prompt, n, seed in (
                 (pipeline, "", "a red circle", 4, 0),
                 (pipeline, "", "a small blue square above a green diamond", 3, 5),
                 (dataclasses.replace(pipeline, temperature=0.7, top_k=5, guidance_scale=3.0),
                  " (temperature 0.7, top_k 5, guidance 3)", "a yellow triangle", 2, 1))]
    return _compare("draw_by_hand", fn, reference, cases, tolerance=1e-5)

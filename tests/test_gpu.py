"""Every model's training step and the pipeline on a CUDA GPU (skipped without one, see conftest.py).

Each test builds the tiny or smoke preset on the GPU, takes one step with the library's own step
function, and checks that the losses are finite and the weights moved, still on the GPU. The
transformer stages (BART, CLIP) and the pipeline also run under bfloat16 autocast, the mixed
precision a GPU run of them would use.
"""
import dataclasses

import pytest
import torch

from course_lib import autoencoder, bart, clip, dalle_mini, datasets, gan, text_gan, vqgan, vqvae

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16}


def _batch(n: int = 8, kind: str = "mixed"):
    data = datasets.ShapesDataset(n, kind=kind, seed=3)
    return data.images.to(CUDA), data.captions


def _snapshot(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters() if p.requires_grad]


def _assert_trained(model: torch.nn.Module, before: list[torch.Tensor], losses: dict) -> None:
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values()), losses
    after = [p for p in model.parameters() if p.requires_grad]
    assert all(p.is_cuda for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), "no weight moved"


def _autocast(dtype):
    return torch.autocast("cuda", dtype=dtype, enabled=dtype is not None)


def test_gan_step():
    config, training = gan.preset("tiny")
    model = gan.GAN(config).to(CUDA).train()
    opt_g, opt_d = gan.optimizers(model, training)
    images, _ = _batch(kind="one")
    before = _snapshot(model)
    losses = gan.train_step(model, opt_g, opt_d, images, torch.randn(len(images), model.config.z_dim, device=CUDA))
    _assert_trained(model, before, losses)
    assert model.sample(4, z=model.noise(4, seed=0).to(CUDA)).is_cuda


def test_text_gan_step():
    config, training = text_gan.preset("tiny")
    model = text_gan.TextGAN(config).to(CUDA).train()
    opt_g, opt_d = text_gan.optimizers(model, training)
    images, prompts = _batch(kind="one")
    before = _snapshot(model)
    z = torch.randn(len(images), model.config.z_dim, device=CUDA)
    _assert_trained(model, before, text_gan.train_step(model, opt_g, opt_d, images, prompts, z))
    figures = text_gan.evaluate(model, n=8, kind=training.kind)  # captions encoded and pictures drawn on the GPU
    assert all(0 <= v <= 1 for v in figures.values())


@pytest.mark.parametrize("name", ["ae", "vae", "cvae"])
def test_autoencoder_step(name):
    config, training = autoencoder.preset(name, "smoke")
    model = autoencoder.build(name, config).to(CUDA)
    step = autoencoder.make_step(model.train(), training)  # its Adam, and the VAE's eps drawn on the GPU
    before = _snapshot(model)
    _assert_trained(model, before, step(_batch(kind="one")))
    figures = autoencoder.evaluate(model.eval(), n=16, middle_only=training.middle_only)  # the oracle's figures, measured where the model is
    assert figures and all(0 <= v <= 1 for v in figures.values())


@pytest.mark.parametrize("module, model_cls", [(vqvae, vqvae.VQVAE), (vqgan, vqgan.VQGAN)])
def test_tokenizer_step(module, model_cls):
    config, training = module.preset("smoke")
    model = model_cls(config).to(CUDA)
    images, _ = _batch(16)
    before = _snapshot(model)
    _assert_trained(model, before, module.make_step(model, training, float(images.var()))(images))
    ids = model.encode(images)
    assert ids.is_cuda and model.decode(ids).shape == images.shape


@pytest.mark.parametrize("precision", AUTOCAST)
def test_bart_translation_step(precision):
    torch.manual_seed(0)
    config, training = bart.preset("tiny")
    model = bart.CaptionToImageBart(config).to(CUDA).train()
    optimizer = bart.optimizer(model, training)
    _, prompts = _batch()
    codes = torch.randint(model.config.codebook_size, (len(prompts), model.config.image_tokens), device=CUDA)
    before = _snapshot(model)
    with _autocast(AUTOCAST[precision]):
        loss = bart.translation_loss(model, prompts, codes, token_noise=0.2)  # the noise drawn on the GPU too
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    _assert_trained(model, before, {"translation": loss.item()})


@pytest.mark.parametrize("precision", AUTOCAST)
def test_clip_step(precision):
    torch.manual_seed(0)
    config, training = clip.preset("tiny")
    model = clip.ShapesCLIP(config).to(CUDA).train()
    step = clip.make_step(model, training)  # AdamW on its cosine schedule
    before = _snapshot(model)
    with _autocast(AUTOCAST[precision]):
        losses = step(_batch())
    _assert_trained(model, before, losses)


@pytest.mark.parametrize("precision", AUTOCAST)
def test_pipeline_draws_on_the_gpu(precision):
    torch.manual_seed(0)
    translator = bart.CaptionToImageBart(dataclasses.replace(bart.PRESETS["tiny"].config, image_tokens=64)).to(CUDA)
    tokenizer = vqvae.VQVAE(dataclasses.replace(vqvae.preset("smoke").config, codebook_size=16)).to(CUDA).eval()
    ranker = clip.ShapesCLIP(clip.PRESETS["tiny"].config).to(CUDA).eval()
    pipeline = dalle_mini.Pipeline(translator, tokenizer, dalle_mini.clip_ranker(ranker), guidance_scale=3.0)
    with _autocast(AUTOCAST[precision]):
        drawing = pipeline.draw("a red circle above a blue square", 6, seed=1)
    assert drawing.images.shape == (6, 3, 32, 32) and drawing.images.dtype == torch.float32
    assert (drawing.scores[:-1] >= drawing.scores[1:]).all()
    assert torch.isfinite(drawing.scores).all()


def test_vq_picks_its_codes_in_fp32_under_autocast():
    """bf16 would round near-equal distances together; ``vq.quantize`` computes them in fp32 anyway."""
    from course_lib import vq

    torch.manual_seed(0)
    z, codebook = torch.randn(4096, 16, device=CUDA), torch.randn(256, 16, device=CUDA)
    expected = vq.quantize(z, codebook)[1]
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert torch.equal(vq.quantize(z, codebook)[1], expected)
        rounded = (z @ codebook.t()).dtype  # what an undecorated product would give: bf16
    assert rounded == torch.bfloat16


@pytest.mark.parametrize("name", ["gan", "text_gan", "vae", "vqvae", "vqgan", "bart", "clip"])
def test_every_stage_trains_in_the_gpus_precision(name):
    """``Stage.fit``'s path on the GPU: ``train.fit`` runs each step in ``train.mixed_precision`` (bf16
    autocast on a GPU that computes it); losses finite, weights fp32 and on the GPU."""
    from course_lib import checkpoints, stages, train
    from course_lib.train import seeded

    stage = stages.STAGES[name]
    needs = {need: checkpoints.shipped(need) for need in stage.needs}
    config, training = stage.preset("tiny")
    with seeded(training.seed):
        model = stage.build(config, needs).to(CUDA)
    model, history = stage.train(model, training, needs)
    assert isinstance(train.mixed_precision(CUDA), torch.autocast) == torch.cuda.is_bf16_supported(including_emulation=False)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.losses.values())
    assert all(p.is_cuda and p.dtype == torch.float32 for p in model.parameters())

"""The diffusion stages on a CUDA GPU (skipped without one, see conftest.py): one step of each stage's
own ``make_step`` on the smoke preset (latent space, the shipped VQ-GAN), and sampling that gives the
same pictures as on the CPU for the same seed (the noise is drawn on the CPU)."""
import pytest
import torch

from course_lib import datasets, diffusion, glide

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def _batch(kind: str):
    data = datasets.ShapesDataset(8, kind=kind, seed=3)
    return data.images.to(CUDA), data.captions


@pytest.mark.parametrize("module, kind", [(diffusion, "one"), (glide, "mixed")])
def test_step_and_sampling_on_the_gpu(module, kind):
    config, training = module.preset("smoke")
    model = module.build(config).to(CUDA).train()
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    losses = module.make_step(model, training)(_batch(kind))
    assert torch.isfinite(torch.tensor(losses["loss"]))
    after = [p for p in model.parameters() if p.requires_grad]
    assert all(p.is_cuda for p in after) and any(not torch.equal(a, b) for a, b in zip(before, after))
    draw = (lambda m: m.sample(4, steps=5, seed=1)) if module is diffusion else \
        (lambda m: m.sample(["a red circle", "a blue square above a green triangle"] * 2, steps=5, seed=1))
    on_gpu = draw(model.eval())
    assert on_gpu.is_cuda
    # the same noise: the same pictures but where float rounding flips a position to a neighbouring code
    assert (on_gpu.cpu() - draw(model.cpu())).abs().mean() < 0.02

"""Two standard GAN stabilisers, as switches of ``course_lib.gan``: spectral normalisation and WGAN-GP.

The course's own GAN recipe (packing, instance noise, latent islands: ``course_lib.gan``) was found by
measuring on ShapesWorld. Elsewhere a learner meets two other cures for an unstable game far more
often, and notebook 01 measures both on the same oracle figures (``benchmarks/ablation_gan_stabilisers.py``):

- **Spectral normalisation** (Miyato et al. 2018, "Spectral normalization for generative adversarial
  networks"): every weight matrix W of D is divided by its largest singular value σ(W), estimated by
  one step of power iteration per training step. Each layer then stretches no input difference by more
  than 1, so D is 1-Lipschitz (LeakyReLU stretches by at most 1 too): it cannot become arbitrarily
  steep around the real pictures and leave G with no useful gradient. ``GANConfig.d_norm = "spectral"``
  puts torch's own ``torch.nn.utils.parametrizations.spectral_norm`` on every convolution of D and
  drops D's batch norm, as Miyato et al.'s DCGAN-style D does.
- **WGAN-GP** (Gulrajani et al. 2017, "Improved training of Wasserstein GANs"): D becomes a *critic*
  that scores pictures without a sigmoid, and the two players play over the Wasserstein distance,
  critic loss D(fake) − D(real), generator loss −D(fake). The distance needs a 1-Lipschitz critic,
  which the paper asks for softly: a **gradient penalty** λ · E[(‖∇D(x̂)‖ − 1)²] at points x̂ on
  straight lines between a real and a fake picture (``gradient_penalty``), λ = 10. The penalty is
  one gradient per picture, and batch norm mixes the pictures of a batch, so the paper removes it from
  the critic: ``GANTraining.loss = "wgan-gp"`` needs ``d_norm`` "none" or "spectral".
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMS = ("batch", "spectral", "none")  # what ``GANConfig.d_norm`` may say


def set_norm(discriminator: nn.Module, norm: str) -> nn.Module:
    """Give ``discriminator`` the normalisation ``norm`` names, in place, after its weights are
    initialised: "batch" leaves DCGAN's batch norm; "none" removes it; "spectral" removes it and
    spectrally normalises every convolution (the ones that lost their batch norm keep no bias: the norm
    had made it redundant, so DCGAN's layers have none)."""
    if norm not in NORMS:
        raise ValueError(f"unknown discriminator norm {norm!r}; choose one of: {', '.join(NORMS)}")
    if norm == "batch":
        return discriminator
    for module in list(discriminator.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.Identity())
    if norm == "spectral":
        for module in list(discriminator.modules()):
            if isinstance(module, nn.Conv2d):
                spectral_norm(module)  # registers W / σ(W), σ by power iteration (one step per forward in training)
    return discriminator


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP's penalty E[(‖∇ₓ̂ D(x̂)‖₂ − 1)²], x̂ = ε · real + (1 − ε) · fake (Gulrajani et al. 2017, eq. 3).

    real, fake: (B, 3, H, W). ``eps``: one ε in [0, 1] per score of the critic, (B / pack,), drawn
    uniformly if not given; a packed critic scores ``critic.pack`` pictures at once, so one ε moves a
    whole pack along its line and the norm is taken over the pack's pictures together. Built with
    ``create_graph`` so that the penalty's own gradient reaches the critic's weights."""
    pack = getattr(critic, "pack", 1)
    if eps is None:
        eps = torch.rand(len(real) // pack, device=real.device)
    eps = eps.repeat_interleave(pack)[:, None, None, None]  # (B, 1, 1, 1): the same ε for a pack's pictures
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(mixed)  # (B / pack,)
    grads, = torch.autograd.grad(scores.sum(), mixed, create_graph=True)  # (B, 3, H, W): each score's own inputs
    norms = grads.reshape(len(scores), -1).norm(dim=1)  # (B / pack,)
    return ((norms - 1) ** 2).mean()


def wgan_gp_step(model: nn.Module, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor,
                 weight: float = 10.0) -> dict[str, float]:
    """One round of WGAN-GP, the same two moves as ``gan.train_step`` with the Wasserstein losses:
    the critic minimises D(fake) − D(real) + ``weight`` · penalty, then G minimises −D(fake).
    One critic step per G step, so every arm of the course's comparison gets the same budget (the
    paper takes five)."""
    G, D = model.generator, model.discriminator
    fake = G(z)  # (B, 3, 32, 32)
    fixed = fake.detach()  # the critic's move leaves G alone
    d_loss = D(fixed).mean() - D(real).mean() + weight * gradient_penalty(D, real, fixed)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = -D(fake).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"D": d_loss.item(), "G": g_loss.item()}

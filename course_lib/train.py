"""One small training loop for every lesson: progress bar, step/time budget, pictures on the way.

Every model in the course trains the same way: draw a batch, take one optimiser step, record the
losses. Only the step differs, so each lesson writes its step as a function ``step(batch) -> dict of
losses`` (visible in the notebook) and hands it to ``fit``, which owns the rest: the budget of the
current mode, a tqdm progress bar, the loss history and a callback every few steps to draw samples.
Given the model's device, it also runs each step in mixed precision where the hardware computes bf16
natively (``mixed_precision``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

import torch
from tqdm.auto import tqdm


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long to train: at most ``steps`` optimiser steps and, if given, at most ``seconds``."""

    steps: int
    seconds: float | None = None

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"a budget needs at least one step, got {self.steps}")


@dataclasses.dataclass
class Training:
    """How a stage is trained, apart from what the model is: its budget, optimiser, data and seed.

    A stage's model config holds what its constructor builds (the architecture), and travels with
    the checkpoint; this holds what only the training loop reads. Stages that need more (a GAN's
    instance noise, BART's denoising budget) subclass it. ``seed`` seeds everything a run draws: the
    initial weights, the training data, the batches' order and the noise.
    """

    steps: int = 1000  # optimiser steps
    seconds: float | None = None  # stop earlier when training has run this long
    lr: float = 1e-3  # the optimiser's (peak) learning rate
    batch_size: int = 64
    n_train: int = 10_000  # ShapesWorld training scenes
    seed: int = 0

    @property
    def budget(self) -> Budget:
        return Budget(self.steps, self.seconds)


class Preset(NamedTuple):
    """One mode of a stage: ``config, training = gan.preset("workshop")``."""

    config: Any  # the model's config dataclass: its architecture, saved with the checkpoint
    training: Training


def pick(presets: Mapping[str, Preset], mode: str) -> Preset:
    """A copy of ``presets[mode]`` (changing it leaves the table alone); a clear error for an unknown mode."""
    if mode not in presets:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(presets)}")
    config, training = presets[mode]
    return Preset(dataclasses.replace(config), dataclasses.replace(training))


class BudgetClock:
    """How much of a step/time ``Budget`` is spent: call ``tick()`` after each step, read ``progress()``.

    Schedules that change over training (a learning rate, the noise a GAN's discriminator sees) follow
    this share rather than the step count alone, so they still finish on a machine slow enough that the
    seconds run out first.
    """

    def __init__(self, budget: Budget):
        self.budget, self.done, self.start = budget, 0, time.perf_counter()

    def tick(self) -> None:
        self.done += 1

    def progress(self) -> float:
        """Share of the budget spent, in [0, 1]: of the steps or of the seconds, whichever is further."""
        spent = self.done / self.budget.steps
        if self.budget.seconds:
            spent = max(spent, (time.perf_counter() - self.start) / self.budget.seconds)
        return min(1.0, spent)


class CosineSchedule:
    """Learning rate for a step/time ``Budget``: a linear warm-up, then a cosine decay to
    ``final`` × the base rate, following whichever runs out first, the steps or the seconds.

    Call ``step()`` after each optimiser step. Small steps at the end of training settle the weights
    where a constant rate keeps them jittering (Loshchilov & Hutter, SGDR, 2017).
    """

    def __init__(self, optimizer, budget: Budget, *, warmup: float = 0.02, final: float = 0.1):
        self.optimizer, self.warmup, self.final = optimizer, warmup, final
        self.clock = BudgetClock(budget)
        self.base = [group["lr"] for group in optimizer.param_groups]
        self._apply()

    def progress(self) -> float:
        """Share of the budget spent, in [0, 1]."""
        return self.clock.progress()

    def factor(self) -> float:
        p = self.progress()
        ramp = min(1.0, (self.clock.done + 1) / max(1.0, self.warmup * self.clock.budget.steps))
        return ramp * (self.final + (1 - self.final) * (1 + math.cos(math.pi * p)) / 2)

    def step(self) -> None:
        self.clock.tick()
        self._apply()

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base):
            group["lr"] = base * self.factor()


def mixed_precision(device) -> contextlib.AbstractContextManager:
    """The precision a training step runs in on ``device``: bf16 autocast on a GPU that computes bf16
    natively (NVIDIA Ampere and newer: A100, L4, H100), full fp32 everywhere else.

    Under autocast the matrix products and convolutions run in bf16, which such a GPU computes several
    times faster, while losses, softmax and norms stay in fp32 (PyTorch's autocast op lists), and the
    weights and the optimiser stay fp32. bf16 keeps fp32's exponent range, so no loss scaling is
    needed (fp16 would need a ``GradScaler``). Off on the CPU, so that the course's CPU figures are fp32
    (most laptop CPUs have no bf16 arithmetic), and on a T4 (Colab's free GPU), which only emulates bf16.
    """
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclasses.dataclass
class History:
    """Losses per step (name -> list of floats) and how long training took."""

    losses: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return max((len(v) for v in self.losses.values()), default=0)

    def record(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.losses.setdefault(name, []).append(float(value))

    def last(self, window: int = 20) -> dict[str, float]:
        """Mean of the last ``window`` values of each loss."""
        return {k: sum(v[-window:]) / len(v[-window:]) for k, v in self.losses.items() if v}


def forever(batches: Iterable) -> Iterator:
    """Cycle through a DataLoader (or any iterable) without end, re-shuffling each epoch."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError("the data yields no batch: is the data set smaller than one batch?")


def fit(step: Callable[[object], Mapping[str, float]], batches: Iterable, budget: Budget, *,
        every: int = 0, callback: Callable[[int, History], None] | None = None,
        desc: str = "training", history: History | None = None, progress: bool = True,
        device=None) -> History:
    """Call ``step`` on batches until the budget is spent; return the loss history.

    ``callback(step_index, history)`` runs every ``every`` steps and once at the end (e.g. to show a
    grid of samples). Passing an earlier ``history`` continues its curves. ``device``: where the
    model is; each step runs in ``mixed_precision(device)`` (the callback, which draws samples, in fp32).
    """
    history = history if history is not None else History()
    start = time.perf_counter()
    bar = tqdm(total=budget.steps, desc=desc, disable=not progress, leave=True)
    done = 0
    precision = mixed_precision(device or "cpu")
    for batch in forever(batches):
        with precision:
            losses = step(batch)
        history.record(losses)
        done += 1
        bar.update(1)
        if done % 10 == 0 or done == budget.steps:
            bar.set_postfix({k: f"{v:.3f}" for k, v in history.last().items()})
        out_of_time = budget.seconds is not None and time.perf_counter() - start >= budget.seconds
        if done >= budget.steps or out_of_time:
            break
        if callback is not None and every and done % every == 0:
            callback(done, history)
    bar.close()
    history.seconds += time.perf_counter() - start
    if callback is not None:
        callback(done, history)
    return history


@contextlib.contextmanager
def seeded(seed: int):
    """torch's generators seeded with ``seed`` inside the block and restored after it.

    A model built (or trained) inside ``with seeded(training.seed):`` gets the same weights (and the
    same dropout, the same re-seeded codes) every time, and the caller's own random state is left as
    it was: building a model in a notebook cell does not change what the next cell draws.
    """
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield

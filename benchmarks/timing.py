"""Timing helpers shared by the stage measurements: wall time of a call, training speed over a few steps."""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterable, Mapping

import torch

from course_lib.train import Budget as TrainBudget
from course_lib.train import fit


def _sync() -> None:
    """Wait for queued GPU work, so wall time covers it (nothing to do on a CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seconds(call: Callable[[], object]) -> tuple[float, object]:
    """Wall-clock seconds of ``call()`` (GPU work included) and what it returned."""
    _sync()
    start = time.perf_counter()
    result = call()
    _sync()
    return time.perf_counter() - start, result


def generation_speed(call: Callable[[], object], count: int, what: str = "sample") -> dict[str, float]:
    """Time ``call()``, which makes ``count`` pictures (``what``: "sample" or "reconstruct"): seconds
    per picture and pictures per second. One warm-up call first, so one-off costs are not counted."""
    call()
    elapsed, _ = seconds(call)
    return {f"{what}_seconds_per_image": elapsed / count, f"{what}_images_per_s": count / elapsed}


def training_speed(step: Callable[[object], Mapping[str, float]], batches: Iterable, steps: int,
                   batch_size: int) -> dict[str, float]:
    """Training steps per second and pictures per second of the library's ``step(batch)``, timed by
    ``course_lib.train.fit`` over ``steps`` steps after one warm-up step."""
    fit(step, batches, TrainBudget(1), progress=False)
    _sync()
    history = fit(step, batches, TrainBudget(steps), progress=False)
    _sync()
    return {"train_steps_per_s": steps / history.seconds,
            "train_images_per_s": steps * batch_size / history.seconds}


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much each measurement draws: bigger is steadier and slower."""

    samples: int  # pictures per unconditional / reconstruction figure
    prompts: int  # prompts per split and scene kind (text-GAN, BART, pipeline); galleries for CLIP
    train_steps: int  # timed training steps per stage
    peer_steps: int  # training steps of each VQ-VAE in the vq_peer comparison


BUDGETS = {
    "tiny": Budget(samples=8, prompts=2, train_steps=1, peer_steps=2),  # the harness's own smoke test
    "quick": Budget(samples=200, prompts=25, train_steps=3, peer_steps=100),  # --quick: minutes
    "full": Budget(samples=1000, prompts=200, train_steps=10, peer_steps=500),  # the published figures
}

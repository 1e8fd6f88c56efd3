"""ShapesWorld as torch datasets, and the classic image sets through torchvision when online.

A ``ShapesDataset`` renders all its scenes once, at construction (10,000 scenes take well under a
second), and keeps them in memory as a float tensor (N, 3, H, W) in [0, 1] with one caption each.
Captions are drawn from the grammar with their own seeded generator, so the same ``seed`` gives the
same pictures *and* the same words.
"""
from __future__ import annotations

import random
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from .captions import describe
from .shapes import POSITIONS, Scene, render, sample_scenes


class ShapesDataset(Dataset):
    """``n`` ShapesWorld scenes of one split and kind, as (image, caption) pairs.

    ``split``: "train" (combinations training may see) or "heldout" (combinations it never sees).
    ``kind``: "one", "two" or "mixed". ``resolution``: 32 or 64.
    """

    def __init__(self, n: int, *, split: str = "train", kind: str = "mixed", resolution: int = 32,
                 seed: int = 0):
        self.scenes: list[Scene] = sample_scenes(n, seed=seed, split=split, kind=kind)
        self.images = render(self.scenes, resolution)  # (N, 3, H, W) in [0, 1]
        rng = random.Random(f"captions-{seed}-{split}-{kind}")
        self.captions: list[str] = [describe(s, rng) for s in self.scenes]

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        return self.images[index], self.captions[index]


def loader(dataset: Dataset, batch_size: int = 64, *, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """A DataLoader with its own seeded shuffling (drops the last incomplete batch when shuffling)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=shuffle,
                      generator=generator)


def one_object_data(n: int, *, seed: int = 0, middle_only: bool = False, resolution: int = 32) -> ShapesDataset:
    """``n`` one-object train-split scenes; ``middle_only`` keeps those in the middle cell (42 kinds of
    picture: what the 2-D latent maps of notebooks 03-04 are drawn from)."""
    data = ShapesDataset(0 if middle_only else n, kind="one", seed=seed, resolution=resolution)
    if middle_only:  # draw more scenes than needed, keep n in the middle cell, render only those
        middle = POSITIONS.index("middle")
        scenes = [s for s in sample_scenes(n * 12, seed=seed, kind="one") if s.objects[0].cell == middle][:n]
        rng = random.Random(f"captions-{seed}-middle")
        data.scenes, data.images = scenes, render(scenes, resolution)
        data.captions = [describe(s, rng) for s in scenes]
    return data


TORCHVISION_SETS = ("mnist", "fashion-mnist", "cifar10")


def torchvision_dataset(name: str, *, root: str | Path = "~/.cache/course_lib/torchvision",
                        train: bool = True) -> Dataset:
    """MNIST, Fashion-MNIST or CIFAR-10 as 32×32 RGB pictures in [0, 1] with their class names as
    captions, downloaded by torchvision (on Colab). Without internet: one clear sentence."""
    import torchvision
    from torchvision import transforms

    classes = {"mnist": torchvision.datasets.MNIST, "fashion-mnist": torchvision.datasets.FashionMNIST,
               "cifar10": torchvision.datasets.CIFAR10}
    if name not in classes:
        raise ValueError(f"unknown data set {name!r}; choose one of: {', '.join(TORCHVISION_SETS)}, "
                         "or use ShapesDataset")
    to_rgb32 = transforms.Compose([transforms.Resize(32), transforms.Grayscale(3) if name != "cifar10"
                                   else transforms.Lambda(lambda im: im), transforms.ToTensor()])
    try:
        data = classes[name](Path(root).expanduser(), train=train, download=True, transform=to_rgb32)
    except (RuntimeError, OSError) as error:
        raise ConnectionError(f"could not download {name} (no internet?); the course runs offline on "
                              f"ShapesWorld: set DATASET = 'shapes' ({error})") from None
    return _Captioned(data)


class _Captioned(Dataset):
    """Turns (image, class index) pairs into (image, class name) pairs."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        image, label = self.data[index]
        return image, self.data.classes[label]

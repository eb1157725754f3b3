"""Datasets held as uint8 tensors (on the compute device) with on-device augmentation.

Small datasets (digits, CIFAR-10, subsets of ImageNet-like folders) fit in memory;
a per-image Python loader would dominate a CPU step, so batches are sliced from a
resident tensor and normalised/augmented with vectorised tensor ops. Every random
draw is a function of ``(seed, epoch, batch index)``: resuming mid-epoch replays
exactly the batches an uninterrupted run would have seen.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch


def _seeded(*parts: int) -> torch.Generator:
    seed = 0
    for p in parts:
        seed = (seed * 1_000_003 + int(p) + 7919) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


@dataclass
class Split:
    """Images (uint8, N x C x H x W) and integer labels."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.ndim != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {self.x.dtype} {tuple(self.x.shape)}")
        if len(self.x) != len(self.y):
            raise ValueError(f"{len(self.x)} images but {len(self.y)} labels")
        self.y = self.y.long()

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: "torch.device | str") -> "Split":
        return Split(self.x.to(device), self.y.to(device))

    def subset(self, index: torch.Tensor) -> "Split":
        return Split(self.x[index], self.y[index])

    def digest(self) -> str:
        """sha256 of the images and labels (shape, order and every byte): the identity of this data."""
        h = hashlib.sha256()
        for t in (self.x, self.y):
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
        return h.hexdigest()


@dataclass
class ImageData:
    """Train / search-validation / test splits plus normalisation statistics.

    ``train`` trains the supernet and recalibrates BN; ``val`` is what the search
    sees (carved from the training set); ``test`` is held out for final reports.
    """

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: Sequence[float]
    std: Sequence[float]
    augment: tuple[str, ...] = ("crop", "flip")
    crop_padding: int = 4
    info: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]

    def to(self, device: "torch.device | str") -> "ImageData":
        return ImageData(self.name, self.train.to(device), self.val.to(device), self.test.to(device),
                         self.num_classes, self.mean, self.std, self.augment, self.crop_padding, self.info)

    def normalise(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=x.device, dtype=dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=dtype).view(1, -1, 1, 1)
        return (x.to(dtype) / 255.0 - mean) / std

    def train_batches(self, batch_size: int, seed: int, epoch: int, start: int = 0,
                      drop_last: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Shuffled, augmented, normalised training batches of one epoch, from batch ``start``."""
        n = len(self.train)
        perm = torch.randperm(n, generator=_seeded(seed, epoch)).to(self.train.x.device)
        count = n // batch_size if drop_last else -(-n // batch_size)
        for b in range(start, count):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            x = self.train.x[idx]
            x = augment(x, self.augment, self.crop_padding, _seeded(seed, epoch, b + 1))
            yield self.normalise(x), self.train.y[idx]

    def train_batch(self, index: int, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Global training batch ``index`` (epoch = index // batches_per_epoch), augmented.

        A pure function of ``(seed, index)``: the trainer asks for batches by index,
        so a resumed run sees exactly the batches an uninterrupted one would.
        """
        per_epoch = self.batches_per_epoch(batch_size)
        if per_epoch < 1:
            raise ValueError(f"batch_size={batch_size} is larger than the {len(self.train)} training images")
        epoch, b = divmod(index, per_epoch)
        cached = getattr(self, "_perm_cache", None)
        if cached is None or cached[0] != (seed, epoch):
            perm = torch.randperm(len(self.train), generator=_seeded(seed, epoch)).to(self.train.x.device)
            cached = ((seed, epoch), perm)
            self._perm_cache = cached
        idx = cached[1][b * batch_size:(b + 1) * batch_size]
        x = augment(self.train.x[idx], self.augment, self.crop_padding, _seeded(seed, epoch, b + 1))
        return self.normalise(x), self.train.y[idx]

    def batches_per_epoch(self, batch_size: int, drop_last: bool = True) -> int:
        n = len(self.train)
        return n // batch_size if drop_last else -(-n // batch_size)

    def eval_batches(self, split: str, batch_size: int, limit: int | None = None
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Un-augmented, normalised batches of ``split`` (first ``limit`` images)."""
        data = getattr(self, split)
        n = len(data) if limit is None else min(limit, len(data))
        for s in range(0, n, batch_size):
            e = min(s + batch_size, n)
            yield self.normalise(data.x[s:e]), data.y[s:e]

    def fixed_train_subset(self, count: int, seed: int) -> Split:
        """A seeded, fixed subset of training images (BN recalibration set)."""
        n = len(self.train)
        idx = torch.randperm(n, generator=_seeded(seed, 10_007))[: min(count, n)]
        return self.train.subset(idx.to(self.train.x.device))


def augment(x: torch.Tensor, ops: Sequence[str], padding: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop (zero padding) and horizontal flip, vectorised over the batch."""
    b, _, h, w = x.shape
    if "crop" in ops and padding > 0:
        padded = torch.nn.functional.pad(x, (padding,) * 4)
        oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]
        batch = torch.arange(b, device=x.device)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    if "flip" in ops:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x.contiguous()

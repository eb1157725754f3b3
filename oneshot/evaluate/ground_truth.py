"""Ground-truth accuracies for ranking: NAS-Bench-Macro, stand-alone training, or a user CSV.

A ground truth maps canonical archs to accuracy (percent). ``accuracy(archs)``
returns values in input order; ``known()`` lists the archs it can answer without
compute (``None`` when it can answer any arch, as stand-alone training can).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data.tensors import ImageData
from ..space.arch import Arch
from ..space.space import SearchSpace
from ..io import atomic_write_text
from ..errors import UserInputError

log = logging.getLogger(__name__)

KINDS = ("nas_bench_macro", "standalone", "csv")


class GroundTruthError(UserInputError):
    """The ground truth cannot answer (missing archs or columns, another space)."""


class GroundTruth(Protocol):
    name: str
    space: SearchSpace

    def accuracy(self, archs: Sequence[Sequence[int]]) -> np.ndarray: ...

    def known(self) -> list[Arch] | None: ...


def _show_missing(missing: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(missing[:limit])
    return shown + (f", ... ({len(missing) - limit} more)" if len(missing) > limit else "")


class TableTruth:
    """A fixed table canonical arch string -> accuracy (NAS-Bench-Macro, a user CSV)."""

    def __init__(self, name: str, space: SearchSpace, table: Mapping[str, float], hint: str = ""):
        self.name, self.space, self.table, self.hint = name, space, dict(table), hint

    def accuracy(self, archs: Sequence[Sequence[int]]) -> np.ndarray:
        keys = [str(self.space.canonical(a)) for a in archs]
        missing = list(dict.fromkeys(k for k in keys if k not in self.table))
        if missing:
            raise GroundTruthError(f"ground truth {self.name} has no accuracy for {len(missing)} of the "
                                   f"{len(set(keys))} archs: {_show_missing(missing)}{self.hint}")
        return np.array([self.table[k] for k in keys], dtype=np.float64)

    def known(self) -> list[Arch]:
        return [Arch.from_string(k) for k in self.table]

    def __repr__(self) -> str:
        return f"TableTruth({self.name!r}, {len(self.table)} archs)"


def csv_truth(path: "str | Path", space: SearchSpace, arch_column: str = "arch",
              accuracy_column: str = "accuracy") -> TableTruth:
    """A user CSV with one row per arch: arch string and accuracy (percent).

    Equivalent archs (same canonical network) are merged by their mean accuracy.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth CSV {path} not found: pass rank.ground_truth_path=<file.csv> "
                                f"with columns {arch_column!r}, {accuracy_column!r}")
    frame = pd.read_csv(path, dtype={arch_column: str})
    missing = [c for c in (arch_column, accuracy_column) if c not in frame.columns]
    if missing:
        raise GroundTruthError(f"ground-truth CSV {path} lacks column(s) {missing}; it has {list(frame.columns)} "
                               "(set rank.arch_column / rank.accuracy_column to use others)")
    if frame[accuracy_column].isna().any() or frame[arch_column].isna().any():
        raise GroundTruthError(f"ground-truth CSV {path}: empty arch or accuracy cells in rows "
                               f"{list(frame.index[frame[[arch_column, accuracy_column]].isna().any(axis=1)][:8])}")
    try:
        acc = pd.to_numeric(frame[accuracy_column])
    except (ValueError, TypeError) as e:
        raise GroundTruthError(f"ground-truth CSV {path}: column {accuracy_column!r} is not numeric ({e})") from e
    rows: dict[str, list[float]] = {}
    for i, (text, value) in enumerate(zip(frame[arch_column], acc)):
        try:
            key = str(space.canonical(space.parse(str(text).strip())))
        except ValueError as e:
            raise GroundTruthError(f"ground-truth CSV {path} row {i}: {e}") from e
        rows.setdefault(key, []).append(float(value))
    merged = sum(len(v) > 1 for v in rows.values())
    if merged:
        log.info("ground-truth CSV %s: %d networks listed more than once (equivalent archs); using the mean",
                 path, merged)
    return TableTruth(f"csv:{path.name}", space, {k: float(np.mean(v)) for k, v in rows.items()},
                      hint=" (rank its own archs with rank.sample=ground_truth, or train the archs of "
                           "sample.csv and add them)")


def nas_bench_macro_truth(space: SearchSpace, path: "str | Path | None" = None, seed: int | None = None) -> TableTruth:
    """NAS-Bench-Macro's CIFAR-10 accuracies (``mean_acc``, or one seed's ``test_acc``).

    ``space`` must have the benchmark's layout (8 layers, the same candidate ops per
    layer); other fields (width, input size) may differ with a warning, so a narrower
    supernet of the same layout can be compared with the benchmark's ordering.
    """
    from .nasbench import NasBenchMacroEvaluator

    bench = NasBenchMacroEvaluator(path, seed=seed)
    ops = [[op.name for op in layer.candidates] for layer in space.layers]
    want = [[op.name for op in layer.candidates] for layer in bench.space.layers]
    if ops != want:
        raise GroundTruthError(
            f"NAS-Bench-Macro ground truth needs the nas_bench_macro layout ({bench.space.num_layers} layers, ops "
            f"{want[0]}), but the checkpoint's space {space.name!r} has {space.num_layers} layers: use "
            "rank.ground_truth=standalone or csv")
    if space != bench.space:
        log.warning("space %r has the NAS-Bench-Macro layout but differs from it (widths/input size): the table's "
                    "accuracies belong to the original networks", space.name)
    table = bench.canonical_table()
    return TableTruth("nas_bench_macro" + ("" if seed is None else f"[seed {seed}]"), space,
                      dict(zip(table["arch"], table["accuracy"].astype(float))))


@torch.no_grad()
def val_accuracy(model: nn.Module, data: ImageData, split: str = "val", images: int | None = None,
                 batch_size: int = 500, device: "torch.device | None" = None) -> tuple[float, float]:
    """(accuracy %, mean cross-entropy) of ``model`` on the first ``images`` of a split."""
    part = getattr(data, split)
    n = len(part) if images is None else min(images, len(part))
    device = device or next(model.parameters()).device
    model.eval()
    correct, loss = 0, 0.0
    for s in range(0, n, batch_size):
        x = data.normalise(part.x[s:min(n, s + batch_size)].to(device))
        y = part.y[s:min(n, s + batch_size)].to(device)
        logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return 100.0 * correct / n, loss / n


class StandaloneTruth:
    """Ground truth by training each arch from scratch with the project's :class:`Trainer`.

    Results go to a CSV ``store`` (one row per arch and settings key) rewritten
    atomically after every arch, so a long ground truth builds up over several runs
    and an interrupted run loses at most the arch in training. The key hashes the
    space, the content of the training and evaluated images and the training/evaluation
    settings: rows trained otherwise are kept in the file but not used.
    """

    COLUMNS = ("arch", "accuracy", "loss", "key", "epochs", "seed", "seconds", "created")

    def __init__(self, space: SearchSpace, data: ImageData, settings, store: "str | Path", *,
                 split: str = "val", val_images: int | None = None, device: "str | torch.device" = "auto",
                 progress: bool = True):
        self.name = "standalone"
        self.space, self.data, self.settings = space, data, settings
        self.store = Path(store)
        self.split, self.val_images, self.device, self.progress = split, val_images, device, progress
        # the content of the images trained on and scored (so the data seed, the split sizes and the
        # source all count), not only their name: a store is reused across runs and data versions
        evaluated = getattr(data, split)
        blob = json.dumps({"space": space.fingerprint(), "data": data.name, "shape": list(data.image_shape),
                           "train_images": len(data.train), "settings": asdict(settings), "split": split,
                           "val_images": val_images, "train_digest": data.train.digest(),
                           "eval_digest": evaluated.digest() if evaluated is not None else None, "mean": list(map(float, data.mean)),
                           "std": list(map(float, data.std))}, sort_keys=True)
        self.key = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self.trained = 0

    def _read(self) -> pd.DataFrame:
        if not self.store.is_file():
            return pd.DataFrame(columns=list(self.COLUMNS))
        frame = pd.read_csv(self.store, dtype={"arch": str, "key": str})
        lacking = set(self.COLUMNS) - set(frame.columns)
        if lacking:
            raise GroundTruthError(f"stand-alone store {self.store} lacks columns {sorted(lacking)}: not a "
                                   "ground-truth store; pass another rank.ground_truth_path")
        return frame

    def results(self) -> dict[str, float]:
        """Accuracies stored for the current settings key."""
        frame = self._read()
        mine = frame[frame["key"] == self.key]
        if len(mine) < len(frame):
            log.info("%s: %d rows trained with other settings are ignored", self.store, len(frame) - len(mine))
        return dict(zip(mine["arch"], mine["accuracy"].astype(float)))

    def known(self) -> list[Arch]:
        return [Arch.from_string(a) for a in self.results()]

    def train_one(self, arch: Arch) -> tuple[float, float, float]:
        """Train ``arch`` from scratch; (val accuracy, loss, seconds)."""
        from .. import runtime
        from ..sampling.uniform import FixedSampler
        from ..supernet import SubNet
        from ..train.trainer import Trainer

        start = time.perf_counter()
        runtime.seed_everything(self.settings.seed)
        model = SubNet.build(self.space, arch)
        trainer = Trainer(model, FixedSampler(self.space, arch, self.settings.seed), self.data, self.settings,
                          device=self.device, progress=False)
        trainer.fit()
        acc, loss = val_accuracy(trainer.model, trainer.data, self.split, self.val_images, device=trainer.device)
        return acc, loss, time.perf_counter() - start

    def accuracy(self, archs: Sequence[Sequence[int]]) -> np.ndarray:
        canon = [self.space.canonical(a) for a in archs]
        done = self.results()
        todo = [a for a in dict.fromkeys(canon) if str(a) not in done]
        if todo:
            log.info("stand-alone ground truth: training %d archs (%d already in %s)", len(todo),
                     len(set(map(str, canon))) - len(todo), self.store)
        for arch in tqdm(todo, desc="stand-alone", unit="arch", disable=not self.progress, leave=False):
            acc, loss, sec = self.train_one(arch)
            self._append({"arch": str(arch), "accuracy": acc, "loss": loss, "key": self.key,
                          "epochs": self.settings.epochs, "seed": self.settings.seed, "seconds": round(sec, 2),
                          "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            done[str(arch)] = acc
            self.trained += 1
            log.info("stand-alone %s: %.2f%% (%.0f s)", arch, acc, sec)
        return np.array([done[str(a)] for a in canon], dtype=np.float64)

    def _append(self, row: dict) -> None:
        frame = self._read()
        frame = frame[~((frame["arch"] == row["arch"]) & (frame["key"] == row["key"]))]
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True) if len(frame) else pd.DataFrame([row])
        atomic_write_text(self.store, frame.to_csv(index=False))

    def __repr__(self) -> str:
        return f"StandaloneTruth(store={str(self.store)!r}, key={self.key})"

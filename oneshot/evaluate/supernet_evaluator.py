"""`SupernetEvaluator`: arch -> BN recalibration -> validation accuracy, cached in SQLite."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import runtime
from ..data.tensors import ImageData, Split
from ..space.costs import CostModel
from ..space.space import SearchSpace
from ..supernet.few_shot import supernet_from_spec
from ..train.bn import recalibrate_bn
from ..space.arch import Arch
from ..train.checkpoint import read_checkpoint, stored_space
from ..train.distributed import DistContext
from .cache import EvalCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSettings:
    """Everything that changes an evaluation's result (part of the cache key)."""

    recal_images: int = 500
    val_images: int = 2000
    batch_size: int = 500
    recal_batch_size: int = 100
    split: str = "val"
    seed: int = 0
    recalibrate: bool = True
    channels_last: bool = True  # pays on CPU too (1.4-1.7x per val pass, benchmarks/evaluator_speed.py)

    def key(self, data_name: str, data_id: str = "") -> str:
        """Cache key of these settings on the data identified by ``data_id`` (see :func:`data_identity`)."""
        blob = json.dumps({**asdict(self), "data": data_name, "data_id": data_id}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def data_identity(data: ImageData, recal: Split, val: Split) -> str:
    """Content hash of exactly what an accuracy is computed from: the recalibration and validation
    images and labels (so source, split, seed and sizes all count) and the normalisation."""
    blob = json.dumps({"recal": recal.digest(), "val": val.digest(), "mean": list(map(float, data.mean)),
                       "std": list(map(float, data.std))}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def canonical_archs(space: SearchSpace, archs: Sequence[Sequence[int]]) -> list[Arch]:
    """Validated canonical forms of a batch of archs (vectorised: 10^4 archs in milliseconds)."""
    genomes = np.asarray([tuple(a) for a in archs], dtype=np.int64).reshape(len(archs), -1)
    if genomes.shape[1] != space.num_layers or (genomes < 0).any() or (genomes >= space.num_choices).any():
        for a in archs:  # find the offending arch and raise its precise error
            space.validate(a)
    return [Arch(g) for g in space.canonical_batch(genomes)]


@dataclass
class SupernetCheckpoint:
    """A supernet checkpoint read once: the rebuilt model, its space, the stored state, and the
    file's content hash (the evaluator cache's checkpoint key)."""

    path: Path
    model: nn.Module
    space: SearchSpace
    state: dict
    content_hash: str


def open_supernet(path: "str | Path", space: SearchSpace | None = None) -> SupernetCheckpoint:
    """Read a checkpoint once (checked: format, checksum, finite, ``space`` if given) and rebuild the
    supernet it was trained as, with its weights."""
    state, content_hash = read_checkpoint(path, space)
    stored = stored_space(state, path)
    model = supernet_from_spec(stored, state.get("supernet"))  # one-shot, or few-shot sub-supernets
    model.load_state_dict(state["model"])
    return SupernetCheckpoint(Path(path), model, stored, state, content_hash)


def load_supernet(path: "str | Path", space: SearchSpace | None = None) -> tuple[nn.Module, SearchSpace, dict]:
    """``(model, space, state)`` of :func:`open_supernet`."""
    ckpt = open_supernet(path, space)
    return ckpt.model, ckpt.space, ckpt.state


class SupernetEvaluator:
    """The only door to accuracy for search, ranking and notebooks.

    ``evaluate(archs)`` canonicalises each arch (equivalent archs are one network,
    evaluated once), looks it up in the cache, and for the rest recalibrates BN on a
    fixed seeded subset of training images and measures accuracy on the first
    ``val_images`` of the search-validation split. Results are in input order.
    """

    def __init__(self, model: nn.Module, space: SearchSpace, data: ImageData, settings: EvalSettings = EvalSettings(),
                 *, checkpoint_id: str = "in-memory", cache: "EvalCache | str | Path | None" = None,
                 device: "str | torch.device" = "auto", progress: bool = True):
        if data.num_classes != space.num_classes:
            raise ValueError(f"data {data.name!r} has {data.num_classes} classes, space {space.name!r} "
                             f"has {space.num_classes}: set space.num_classes={data.num_classes}")
        self.space, self.settings, self.progress = space, settings, progress
        self.device = runtime.resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.data = data.to(self.device)
        self.costs = CostModel(space)
        self.checkpoint_id = checkpoint_id
        self.cache = EvalCache(cache) if isinstance(cache, (str, Path)) else cache
        self.channels_last = settings.channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        recal = self.data.fixed_train_subset(settings.recal_images, settings.seed)
        split = getattr(self.data, settings.split)
        n = min(settings.val_images, len(split))
        val = split.subset(torch.arange(n, device=split.x.device))
        self.settings_key = settings.key(data.name, data_identity(self.data, recal, val))
        self._recal = [x for x, _ in self._split_batches(recal, settings.recal_batch_size)]
        self._val = list(self._split_batches(val, settings.batch_size))
        self.stats = {"requested": 0, "cache_hits": 0, "computed": 0, "seconds": 0.0}
        self.dist = DistContext.current()

    @classmethod
    def from_checkpoint(cls, path: "str | Path", data: ImageData, settings: EvalSettings = EvalSettings(),
                        space: SearchSpace | None = None, **kwargs) -> "SupernetEvaluator":
        return cls.from_supernet(open_supernet(path, space), data, settings, **kwargs)

    @classmethod
    def from_supernet(cls, ckpt: SupernetCheckpoint, data: ImageData, settings: EvalSettings = EvalSettings(),
                      **kwargs) -> "SupernetEvaluator":
        """The evaluator of an already opened checkpoint (keyed by its content hash in the cache)."""
        return cls(ckpt.model, ckpt.space, data, settings, checkpoint_id=ckpt.content_hash, **kwargs)

    def _split_batches(self, split, batch_size: int):
        for s in range(0, len(split), batch_size):
            x = self.data.normalise(split.x[s:s + batch_size])
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, split.y[s:s + batch_size]

    @torch.inference_mode(False)
    def _measure(self, arch) -> tuple[float, float]:
        if self.settings.recalibrate:
            recalibrate_bn(self.model, self._recal, arch)
        self.model.eval()
        correct, loss, n = 0, 0.0, 0
        with torch.inference_mode():
            for x, y in self._val:
                logits = self.model(x, arch).float()
                loss += F.cross_entropy(logits, y, reduction="sum").item()
                correct += (logits.argmax(1) == y).sum().item()
                n += len(y)
        return 100.0 * correct / n, loss / n

    def _compute(self, archs: list[Arch]) -> list[tuple[str, float, float, float]]:
        """(arch, accuracy, loss, seconds) of archs not in the cache; subclasses may batch this."""
        rows = []
        for arch in tqdm(archs, desc="evaluate", unit="arch", disable=not self.progress or len(archs) < 2,
                         leave=False):
            start = time.perf_counter()
            acc, loss = self._measure(arch)
            rows.append((str(arch), acc, loss, time.perf_counter() - start))
        return rows

    def _compute_distributed(self, archs: list[Arch]) -> list[tuple[str, float, float, float]]:
        """Under torchrun, rank r computes archs[r::world]; every rank gets all results (rank 0 caches)."""
        if not self.dist.enabled:
            return self._compute(archs)
        import torch.distributed as dist

        # contiguous blocks of the sorted archs: shared prefixes stay on one rank (prefix sharing)
        order, n, w, r = sorted(archs), len(archs), self.dist.world_size, self.dist.rank
        mine = self._compute(order[r * n // w:(r + 1) * n // w])
        gathered: list = [None] * self.dist.world_size
        dist.all_gather_object(gathered, mine)
        return [row for part in gathered for row in part]

    def evaluate(self, archs: Sequence[Sequence[int]]) -> pd.DataFrame:
        canon = canonical_archs(self.space, archs)
        keys = [str(a) for a in canon]
        self.stats["requested"] += len(keys)
        found = self.cache.get_many(self.checkpoint_id, self.settings_key, keys) if self.cache else {}
        todo = [a for a in dict.fromkeys(canon) if str(a) not in found]
        results = dict(found)
        if todo and self.cache is not None and not self.dist.enabled:
            # claim what this job computes; wait for archs another job is computing right now
            by_key = {str(a): a for a in todo}
            waited, new_rows = self.cache.compute_once(self.checkpoint_id, self.settings_key, list(by_key),
                                                       lambda ks: self._compute([by_key[k] for k in ks]))
            found = {**found, **waited}
            results.update(waited)
        else:
            new_rows = self._compute_distributed(todo) if todo else []
            if self.cache and new_rows and self.dist.is_main:
                self.cache.put_many(self.checkpoint_id, self.settings_key, new_rows)
        for arch, acc, loss, sec in new_rows:
            results[arch] = (acc, loss)
            self.stats["seconds"] += sec
        self.stats["computed"] += len(new_rows)
        self.stats["cache_hits"] += sum(k in found for k in keys)
        computed = {r[0] for r in new_rows}
        seen: set[str] = set()
        cached = []
        for k in keys:  # a duplicate within one call is a hit for all but its first occurrence
            cached.append(k not in computed or k in seen)
            seen.add(k)
        flops, params = self.costs.flops(canon), self.costs.params(canon)
        return pd.DataFrame({
            "arch": keys,
            "accuracy": [results[k][0] for k in keys],
            "loss": [results[k][1] for k in keys],
            "flops": flops, "params": params, "cached": cached,
        })

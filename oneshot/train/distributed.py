"""Data-parallel training with torch.distributed (launched by ``torchrun``).

Why not wrap the supernet in ``DistributedDataParallel``: DDP's reducer expects
every parameter to receive a gradient in every backward pass. A single-path
supernet leaves most ops unused each step; ``find_unused_parameters=True`` costs a
graph traversal per backward and still hands zero gradients to unsampled ops
(which momentum and weight decay would then move). Instead every rank draws the
*same* archs at each step (samplers are functions of ``(seed, step)``), so every
rank has gradients for exactly the same parameters; after all archs of a step are
accumulated locally (FairNAS's m subnets included: the equivalent of DDP's
``no_sync``), those gradients are flattened into buckets and all-reduced once --
one collective per optimizer step, in the same order on every rank.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def current(cls) -> "DistContext":
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
        return cls()


def init_from_env(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment (no-op without one).

    Backend: ``nccl`` when this rank uses CUDA, ``gloo`` otherwise.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device != "cpu"
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if use_cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if use_cuda else "gloo")
        log.info("rank %d/%d joined (%s)", dist.get_rank(), world, dist.get_backend())
    return DistContext.current()


@contextmanager
def process_group(device: str = "auto") -> Iterator[DistContext]:
    """:func:`init_from_env` for the duration of a ``with`` block, then an orderly teardown.

    A group this call created is destroyed on the way out. After a normal exit every
    rank first waits at a barrier, so no rank tears its backend down while another
    still communicates or saves (gloo aborts the process with "terminate called
    without an active exception" then). After an exception the barrier is skipped:
    the other ranks may never reach it.
    """
    owned = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    ctx = init_from_env(device)
    finished = False
    try:
        yield ctx
        finished = True
    finally:
        if owned and dist.is_initialized():
            if finished:
                dist.barrier()
            dist.destroy_process_group()


def rank_device(ctx: DistContext, device: str) -> str:
    """Each rank's compute device: ``cuda:<local_rank>`` under torchrun with GPUs."""
    if ctx.enabled and device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{ctx.local_rank}"
    return device


def shard(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """This rank's contiguous share of a global batch (the DistributedSampler split)."""
    if not ctx.enabled:
        return x
    if len(x) % ctx.world_size:
        raise ValueError(f"global batch of {len(x)} does not split over {ctx.world_size} ranks: "
                         "make train.batch_size a multiple of the number of processes")
    per = len(x) // ctx.world_size
    return x[ctx.rank * per:(ctx.rank + 1) * per]


def average_gradients(params: list[torch.nn.Parameter], ctx: DistContext, bucket_mb: float = 25.0) -> None:
    """All-reduce (mean) the gradients that exist, in buckets, identically ordered on every rank."""
    if not ctx.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    limit = int(bucket_mb * 2**20)
    bucket: list[torch.Tensor] = []
    size = 0
    for g in grads + [None]:  # None flushes the last bucket
        if g is not None and (not bucket or (size + g.numel() * g.element_size() <= limit
                                             and g.dtype == bucket[0].dtype and g.device == bucket[0].device)):
            bucket.append(g)
            size += g.numel() * g.element_size()
            continue
        if bucket:
            flat = _flatten_dense_tensors(bucket)
            dist.all_reduce(flat)
            flat /= ctx.world_size
            for dst, src in zip(bucket, _unflatten_dense_tensors(flat, bucket)):
                dst.copy_(src)
        bucket, size = ([g], g.numel() * g.element_size()) if g is not None else ([], 0)


def all_reduce_scalar(value: float, ctx: DistContext, device: torch.device) -> float:
    """Sum of a float over ranks (used to stop every rank together on a NaN loss)."""
    if not ctx.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def mean_over_ranks(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Each value averaged over ranks in one all-reduce (every rank then feeds a sampler the same
    numbers, so its adaptive draws stay identical across ranks); unchanged without DDP."""
    if not ctx.enabled or not values:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / ctx.world_size).tolist()

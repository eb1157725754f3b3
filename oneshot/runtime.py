"""Compute device, threads and precision choices (``device=auto`` picks CUDA when present)."""
from __future__ import annotations

import logging
import random
from contextlib import nullcontext
from typing import ContextManager

import numpy as np
import torch
from .errors import UnsatisfiableError

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UnsatisfiableError(f"device={name!r} requested but CUDA is not available here: use runtime.device=auto or cpu")
    return device


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(int(threads))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``mode`` in {auto, off, bf16, fp16}; ``auto`` = bf16/fp16 on CUDA, off on CPU."""
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    if mode in ("fp16", "auto"):
        return torch.float16
    raise ValueError(f"unknown amp mode {mode!r}: use auto, off, bf16 or fp16")


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager:
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def use_channels_last(mode: str, device: torch.device) -> bool:
    """``auto`` = CUDA only. NHWC also pays on CPU (CIFAR supernet training on a 2-core AVX-512
    CPU: 0.152 vs 0.27 s per step of 64) and the CPU recipes turn it on, but a 2-process gloo
    run aborted with it, so CPU default stays NCHW until that is understood."""
    if mode == "auto":
        return device.type == "cuda"
    return bool(mode) and mode not in ("off", "false", "False")


def tune_cpu_allocator() -> bool:
    """Keep large tensors in the glibc heap instead of a fresh mmap each (Linux only).

    By default glibc maps every allocation over its threshold anew, so each large
    activation pays page faults: one validation pass measured 2.5 s user + 6.1 s system
    time, and 2.2 s wall with this setting (benchmarks/evaluator_speed.py). The price:
    the process keeps its peak memory instead of handing it back.
    """
    import ctypes
    import platform

    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_mmap_max, m_trim_threshold = -4, -1
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))

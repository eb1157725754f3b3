"""Timing one forward call: warm-up, repetitions, CPU wall clock or CUDA events.

A *timer* is any ``Callable[[OpDescriptor, DeviceProfile], Sequence[float]]``
returning per-repetition times in milliseconds; :func:`build_lut` takes one so
tests can inject a fake. :class:`TorchOpTimer` is the real one.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .backends import DeviceBackend, cpu_model, get_backend
from .keys import OpDescriptor, build_module, example_input
from .profile import DeviceProfile

log = logging.getLogger(__name__)

OpTimer = Callable[[OpDescriptor, DeviceProfile], Sequence[float]]

MIN_REPEATS = 10


def time_forward(module: nn.Module, x: torch.Tensor, warmup: int, repeats: int,
                 max_seconds: float = float("inf"), backend: DeviceBackend | None = None) -> np.ndarray:
    """Per-call latency (ms) of ``module(x)`` under ``torch.inference_mode``.

    Host clock (``time.perf_counter``) around each call, followed by the backend's
    ``synchronize`` where it has one; a backend with ``event_timing`` (CUDA): a pair of
    device events per call, synchronised once at the end. ``backend`` defaults to the
    one of ``x``'s device type. Stops early (keeping at least ``min(repeats, 10)``
    samples) once ``max_seconds`` of timed calls have passed.
    """
    module.eval()
    if backend is None:
        backend = get_backend(x.device.type)
    sync = backend.synchronize
    with torch.inference_mode():
        for _ in range(warmup):
            module(x)
        if sync is not None:
            sync(x.device)
        if backend.event_timing:
            torch.cuda.synchronize(x.device)
            starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
            ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
            t_start, done = time.perf_counter(), repeats
            for i in range(repeats):
                starts[i].record()
                module(x)
                ends[i].record()
                if i + 1 >= min(repeats, MIN_REPEATS) and time.perf_counter() - t_start > max_seconds:
                    done = i + 1
                    break
            torch.cuda.synchronize(x.device)
            return np.array([s.elapsed_time(e) for s, e in zip(starts[:done], ends[:done], strict=True)])
        times = []
        clock = time.perf_counter
        t_start = clock()
        for i in range(repeats):
            t0 = clock()
            module(x)
            if sync is not None:
                sync(x.device)
            times.append(clock() - t0)
            if i + 1 >= min(repeats, MIN_REPEATS) and clock() - t_start > max_seconds:
                break
        return np.array(times) * 1e3


class TorchOpTimer:
    """Measures one op key in this process: builds its module once (fresh weights, cached
    per key), checks the output shape, times ``profile.batch``-sized calls.

    Thread count comes from the profile: call it inside ``profile.activate()``.
    """

    def __init__(self, seed: int = 0, cache_size: int = 64):
        self.seed, self.cache_size = seed, cache_size
        self._cache: dict[tuple[str, int, str], tuple[nn.Module, torch.Tensor]] = {}

    def prepare(self, desc: OpDescriptor, profile: DeviceProfile) -> tuple[nn.Module, torch.Tensor]:
        device = profile.torch_device
        cache_key = (desc.key, profile.batch, str(device))
        if cache_key not in self._cache:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            torch.manual_seed(self.seed)
            module = build_module(desc).to(device).eval()
            x = example_input(desc, profile.batch, device)
            with torch.inference_mode():
                y = module(x)
            expected = (profile.batch, desc.out_shape[2]) if desc.kind == "head" else (
                profile.batch, desc.out_shape[2], desc.out_shape[0], desc.out_shape[1])
            if tuple(y.shape) != expected:
                raise RuntimeError(f"op {desc.key}: module output {tuple(y.shape)} != key's shape {expected}")
            self._cache[cache_key] = (module, x)
        return self._cache[cache_key]

    def __call__(self, desc: OpDescriptor, profile: DeviceProfile) -> np.ndarray:
        module, x = self.prepare(desc, profile)
        return time_forward(module, x, profile.warmup, profile.repeats, profile.max_seconds, profile.backend)


def summarize(samples: Sequence[float]) -> tuple[float, float, float, int]:
    """(median, 25th percentile, 75th percentile, n) of samples in ms."""
    a = np.asarray(samples, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"latency samples must be finite and non-empty, got {a!r}")
    p25, med, p75 = np.percentile(a, [25, 50, 75])
    return float(med), float(p25), float(p75), int(a.size)


def load_average() -> str:
    """The 1/5/15-minute load averages as text ('' where unavailable)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return ""


def warn_if_busy(profile: DeviceProfile, what: str) -> None:
    """Log a warning when other work competes for the CPU (measurements then vary with it)."""
    if not profile.backend.host_cpu:
        return
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return
    cores = os.cpu_count() or 1
    if load > cores:
        log.warning("%s on a busy machine: load average %.1f on %d cores; CPU latencies will vary with the "
                    "other work (compare tables and validations measured at similar load)", what, load, cores)


def device_name(kind: str) -> str:
    """A human-readable name of the measuring device (CPU model or GPU name)."""
    backend = get_backend(kind)
    if backend.measurable and backend.is_available():
        return backend.describe()
    return cpu_model()

"""Device backends: what a device profile's ``kind`` means when latency is measured.

One :class:`DeviceBackend` per kind, registered by name. A device profile
(``conf/device/<name>.yaml``) names its kind; adding a kind of device is one
:func:`register_backend` call (here for a built-in, or in the user's code before
measuring) and a profile YAML, nothing else. Measurements that run in a spawned
worker (a profile with ``omp_wait_policy`` this process was not started with) see
the built-in kinds and those registered when :mod:`oneshot` is imported only.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Callable

import torch


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


@dataclass(frozen=True)
class DeviceBackend:
    """How to measure on one kind of device.

    * ``measurable`` -- False for devices we do not own: their tables are imported, never measured.
    * ``torch_device`` -- the torch device type the ops run on (default: the kind itself).
    * ``is_available`` -- whether this machine has the device (checked before measuring).
    * ``event_timing`` -- per-call device events (CUDA) instead of the host clock.
    * ``synchronize`` -- called after each host-clocked call on a device that runs asynchronously.
    * ``describe`` -- the device's name recorded in a table's metadata.
    * ``host_cpu`` -- timings are disturbed by other work on the host CPU (warn when it is busy).
    """

    kind: str
    measurable: bool = True
    torch_device: str | None = None
    is_available: Callable[[], bool] = lambda: True
    event_timing: bool = False
    synchronize: Callable[[torch.device], None] | None = None
    describe: Callable[[], str] = cpu_model
    host_cpu: bool = True

    def device(self) -> torch.device:
        return torch.device(self.torch_device or self.kind)


_BACKENDS: dict[str, DeviceBackend] = {}


def register_backend(backend: DeviceBackend, replace: bool = False) -> DeviceBackend:
    if backend.kind in _BACKENDS and not replace:
        raise ValueError(f"device backend {backend.kind!r} is already registered (pass replace=True)")
    _BACKENDS[backend.kind] = backend
    return backend


def unregister_backend(kind: str) -> None:
    _BACKENDS.pop(kind, None)


def backend_kinds() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def get_backend(kind: str) -> DeviceBackend:
    try:
        return _BACKENDS[kind]
    except KeyError:
        raise ValueError(f"unknown device kind {kind!r}: registered kinds are {', '.join(_BACKENDS)} "
                         "(oneshot.latency.register_backend adds one)") from None


register_backend(DeviceBackend("cpu"))
register_backend(DeviceBackend("cuda", is_available=torch.cuda.is_available, event_timing=True,
                               describe=lambda: torch.cuda.get_device_name(), host_cpu=False))
register_backend(DeviceBackend("external", measurable=False, host_cpu=False))

"""Where measurements run: in this process, or in a spawned worker with the profile's OpenMP env.

OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads it, so a profile asking for a
policy the current process was not started with is measured in a fresh worker
process (``python -m oneshot.latency._worker_main``) started with that environment. On a shared
CPU the difference is large: with the default spin-waiting, two OpenMP threads
competing with other busy processes stall at every barrier (an 8-layer network
at batch 1 went from ~2 ms to 10-40 ms); ``passive`` waiting keeps them usable.

Both measurers offer ``time_op(key, warmup, repeats)``, ``load_archs(space_config,
archs, seed)``, ``time_arch(index, warmup, repeats)`` and ``close()``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import traceback
from dataclasses import replace
from typing import Any, BinaryIO, Iterator, Sequence

import numpy as np
import torch

from ..space.space import SearchSpace
from ..supernet.supernet import SubNet
from .keys import parse_key
from .profile import DeviceProfile
from .timing import TorchOpTimer, time_forward

log = logging.getLogger(__name__)


class LocalMeasurer:
    """Measures in this process; sets the profile's thread count until ``close()``."""

    def __init__(self, profile: DeviceProfile):
        self.profile = profile
        self._stack = contextlib.ExitStack()
        self.device = self._stack.enter_context(profile.activate())
        self._ops = TorchOpTimer()
        self._nets: list[torch.nn.Module] = []
        self._x: torch.Tensor | None = None

    def time_op(self, key: str, warmup: int, repeats: int) -> np.ndarray:
        return self._ops(parse_key(key), replace(self.profile, warmup=warmup, repeats=repeats))

    def load_archs(self, space_config: dict, archs: Sequence[Sequence[int]], seed: int = 0) -> None:
        """Build the stand-alone networks to time (fresh weights: latency does not depend on them)."""
        space = SearchSpace(space_config)
        torch.manual_seed(seed)
        self._nets = [SubNet.build(space, a).to(self.device).eval() for a in archs]
        self._x = torch.randn(self.profile.batch, space.in_channels, space.input_size, space.input_size,
                              device=self.device)

    def time_arch(self, index: int, warmup: int, repeats: int) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("load_archs first")
        return time_forward(self._nets[index], self._x, warmup, repeats, self.profile.max_seconds, self.profile.backend)

    def close(self) -> None:
        self._nets, self._x = [], None
        self._stack.close()


class SubprocessMeasurer:
    """Proxies a :class:`LocalMeasurer` living in a worker process started with ``env``.

    The worker is ``python -m oneshot.latency._worker_main`` (not ``multiprocessing``, so it
    works from any ``__main__``: scripts, stdin, notebooks, console entry points);
    requests and replies are pickles over its stdin / a private copy of its stdout.
    """

    def __init__(self, profile: DeviceProfile, env: dict[str, str]):
        self._proc = subprocess.Popen([sys.executable, "-m", "oneshot.latency._worker_main"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env={**os.environ, **env})
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdin, self._proc.stdout
        self._call("start", profile.to_dict())  # raises if the worker could not start
        log.info("measuring in worker process %d with %s", self._proc.pid, env)

    def _call(self, method: str, *args: Any) -> Any:
        try:
            pickle.dump((method, args), self._in, protocol=pickle.HIGHEST_PROTOCOL)
            self._in.flush()
            tag, payload = pickle.load(self._out)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):
            code = self._proc.wait(5)
            raise RuntimeError(f"latency worker process exited unexpectedly (exit code {code}); "
                               "its error is on stderr above") from None
        if tag == "error":
            raise RuntimeError(f"latency worker failed:\n{payload}")
        return payload

    def time_op(self, key: str, warmup: int, repeats: int) -> np.ndarray:
        return self._call("time_op", key, warmup, repeats)

    def load_archs(self, space_config: dict, archs: Sequence[Sequence[int]], seed: int = 0) -> None:
        self._call("load_archs", space_config, [list(map(int, a)) for a in archs], seed)

    def time_arch(self, index: int, warmup: int, repeats: int) -> np.ndarray:
        return self._call("time_arch", index, warmup, repeats)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                pickle.dump(None, self._in)
                self._in.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.terminate()
                self._proc.wait(5)
        self._out.close()


def _serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Worker loop: ``(method, args)`` pickles in, ``("ok", result)`` / ``("error", traceback)`` out."""
    measurer: LocalMeasurer | None = None
    try:
        while True:
            try:
                msg = pickle.load(inp)
            except EOFError:  # parent went away
                break
            if msg is None:
                break
            method, args = msg
            try:
                if method == "start":
                    measurer, result = LocalMeasurer(DeviceProfile(**args[0])), None
                elif measurer is None:
                    raise RuntimeError("worker not started")
                else:
                    result = getattr(measurer, method)(*args)
                reply = ("ok", result)
            except Exception:
                reply = ("error", traceback.format_exc())
            pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    finally:
        if measurer is not None:
            measurer.close()


def worker_env(profile: DeviceProfile) -> dict[str, str]:
    """Environment the profile needs at process start (empty: none)."""
    env = {}
    if profile.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = profile.omp_wait_policy.upper()
    return env


def needs_subprocess(profile: DeviceProfile) -> bool:
    """True when the profile's OpenMP env differs from the one this process was started with."""
    return any(os.environ.get(k, "").upper() != v.upper() for k, v in worker_env(profile).items())


@contextlib.contextmanager
def open_measurer(profile: DeviceProfile,
                  isolate: bool | None = None) -> Iterator["LocalMeasurer | SubprocessMeasurer"]:
    """A measurer for ``profile``: a worker process when ``isolate`` (default: when needed)."""
    isolate = needs_subprocess(profile) if isolate is None else isolate
    measurer = SubprocessMeasurer(profile, worker_env(profile)) if isolate else LocalMeasurer(profile)
    try:
        yield measurer
    finally:
        measurer.close()


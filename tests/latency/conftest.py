"""Shared fixtures for latency tests: small spaces, a fake timer, a CPU profile."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.latency import DeviceProfile
from oneshot.space import SearchSpace


def fake_ms(key: str) -> float:
    """A deterministic, key-dependent 'latency' (exact in binary floating point)."""
    return float(len(key)) / 4.0


class FakeTimer:
    """Returns ``repeats`` copies of :func:`fake_ms`; records the keys it measured."""

    def __init__(self, fail_after: int | None = None):
        self.calls: list[str] = []
        self.fail_after = fail_after

    def __call__(self, desc, profile):
        if self.fail_after is not None and len(set(self.calls) | {desc.key}) > self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls.append(desc.key)
        return np.full(profile.repeats, fake_ms(desc.key))

    ms = staticmethod(fake_ms)

    @property
    def keys(self) -> set[str]:
        return set(self.calls)


@pytest.fixture
def fake_timer():
    """Factory of :class:`FakeTimer` (``fake_timer(fail_after=None)``)."""
    return FakeTimer


@pytest.fixture
def profile() -> DeviceProfile:
    return DeviceProfile(name="test_cpu", kind="cpu", threads=1, batch=1, warmup=1, repeats=4, rounds=2)


@pytest.fixture
def tiny_space() -> SearchSpace:
    """Two stages, 3 layers, every op kind: proj, identity, mbconv (runs in milliseconds)."""
    return SearchSpace({"name": "tiny", "input_size": 8, "num_classes": 3, "stem_channels": 4, "head_channels": 16,
                        "ops": ["identity", "mbconv_k3_e3", "mbconv_k5_e6"],
                        "stages": [{"layers": 2, "channels": 8, "stride": 2},
                                   {"layers": 1, "channels": 8, "stride": 1}]})

"""A device kind is one registry entry: register it, name it in a profile, measure with it."""
from __future__ import annotations

import pytest
import torch

from oneshot.latency import DeviceBackend, DeviceProfile, LatencyLUT, build_lut, register_backend, space_keys
from oneshot.latency.backends import get_backend, unregister_backend
from oneshot.latency.timing import TorchOpTimer, device_name, time_forward


@pytest.fixture
def synced_cpu():
    """A new kind: ops on the CPU, host-clocked with a synchronize after each call (as an async device)."""
    syncs = []
    backend = register_backend(DeviceBackend("synced_cpu", torch_device="cpu", synchronize=syncs.append,
                                             describe=lambda: "a test device"))
    yield backend, syncs
    unregister_backend("synced_cpu")


def test_a_registered_kind_builds_a_real_table_with_no_other_change(tmp_path, synced_cpu, tiny_space):
    backend, syncs = synced_cpu
    profile = DeviceProfile(name="synced", kind="synced_cpu", threads=1, warmup=1, repeats=2, rounds=1)
    lut = build_lut(tiny_space, profile, tmp_path / "t.csv", timer=TorchOpTimer(), progress=False)
    assert set(lut.keys()) >= set(space_keys(tiny_space)) and all(r.median_ms > 0 for r in lut.rows.values())
    assert syncs and all(d == torch.device("cpu") for d in syncs)  # the backend's synchronize timed each call
    loaded = LatencyLUT.load(tmp_path / "t.csv", profile=profile, space=tiny_space)
    assert loaded.metadata["kind"] == "synced_cpu" and loaded.metadata["device"] == "a test device"


def test_unknown_kinds_name_the_registered_ones():
    with pytest.raises(ValueError, match="cpu, cuda, external"):
        DeviceProfile(name="x", kind="tpu")
    with pytest.raises(ValueError, match="already registered"):
        register_backend(DeviceBackend("cpu"))


def test_built_in_backends():
    assert get_backend("cpu").measurable and get_backend("cuda").event_timing
    assert not get_backend("external").measurable
    assert device_name("external")  # names the host, never raises
    x = torch.zeros(1, 3)
    assert len(time_forward(torch.nn.Identity(), x, warmup=0, repeats=3)) == 3  # backend from the tensor's device


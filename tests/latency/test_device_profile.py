from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from oneshot.latency import DeviceProfile


@pytest.mark.parametrize("name", ["cpu_1t", "cpu_2t", "cpu_2t_b32", "cuda", "nsganetv2_i7_8700k", "ofa_note10_224"])
def test_shipped_profiles_load(name):
    p = DeviceProfile.load(name)
    assert p.name == name and p.lut == f"luts/{name}.csv" and p.kind in ("cpu", "cuda", "external")
    assert str(p.lut_path("/r")) == f"/r/luts/{name}.csv"


def test_from_omegaconf_node_resolves_relative_interpolation():
    cfg = OmegaConf.create({"device": {"name": "x", "kind": "cpu", "threads": 2, "batch": 4,
                                       "lut": "luts/${.name}.csv", "latency_correction": False}})
    p = DeviceProfile.from_config(cfg.device)
    assert p.lut == "luts/x.csv" and p.threads == 2 and p.batch == 4 and not p.latency_correction


def test_bad_profiles_are_refused():
    with pytest.raises(ValueError, match="unknown key"):
        DeviceProfile.from_config({"name": "x", "thread": 2})
    with pytest.raises(ValueError, match="kind"):
        DeviceProfile(name="x", kind="tpu")
    with pytest.raises(ValueError, match="omp_wait_policy"):
        DeviceProfile(name="x", omp_wait_policy="spin")
    with pytest.raises(RuntimeError, match="external"):
        _ = DeviceProfile(name="x", kind="external").torch_device

from __future__ import annotations

import numpy as np
import pytest

from oneshot.latency import (DeviceProfile, LatencyLUT, agreement, build_lut, fit_affine, measure_archs,
                             validate_lut)
from oneshot.latency.worker import open_measurer



def test_validation_fits_the_affine_correction_on_calibration_archs(tmp_path, profile, fake_timer):
    from oneshot.space import load_space

    space = load_space("nas_bench_macro")
    lut = build_lut(space, profile, tmp_path / "t.csv", timer=fake_timer(), progress=False)
    seen = {}

    def arch_timer(sp, archs, prof):  # "measured" = 1.5 x table sum + 0.25 ms, 3 samples each
        seen["n"] = len(archs)
        base = lut.predict(archs, sp, corrected=False) * 1.5 + 0.25
        return np.repeat(base[:, None], 3, axis=1)

    report = validate_lut(space, profile, lut, n_archs=12, n_calib=6, out_dir=tmp_path, arch_timer=arch_timer)
    assert seen["n"] == 18
    assert report.correction == pytest.approx((1.5, 0.25))
    assert report.plain.kendall_tau == pytest.approx(1.0) and report.plain.mape > 10
    assert report.corrected.mape == pytest.approx(0.0, abs=1e-9)
    assert LatencyLUT.load(tmp_path / "t.csv").correction == pytest.approx((1.5, 0.25))  # stored in the table
    rows = (tmp_path / "lut_validation.csv").read_text().splitlines()
    assert rows[0].startswith("arch,split,measured_ms") and len(rows) == 19
    assert sum(r.split(",")[1] == "calib" for r in rows[1:]) == 6
    assert (tmp_path / "lut_validation.png").stat().st_size > 1000
    assert "affine" in report.summary() and "met" in report.summary()


def test_agreement_and_fit():
    p = np.array([1.0, 2.0, 3.0, 4.0])
    a = agreement(p, p * 2)
    assert a.kendall_tau == pytest.approx(1) and a.pearson_r == pytest.approx(1) and a.mape == pytest.approx(50)
    assert fit_affine(p, 3 * p - 1) == pytest.approx((3, -1))


def test_real_end_to_end_measurement(profile, tiny_space):
    archs = tiny_space.sample(np.random.default_rng(0), 3)
    samples = measure_archs(tiny_space, archs, profile, repeats=4, rounds=2, progress=False, isolate=False)
    assert samples.shape == (3, 4) and np.all(samples > 0)


def test_worker_process_measures_with_the_profile_env():
    profile = DeviceProfile(name="w", threads=1, warmup=1, repeats=3, omp_wait_policy="passive")
    with open_measurer(profile, isolate=True) as m:
        t = m.time_op("proj-in8x8x4-out4x4x8-s2", 1, 3)
        assert t.shape == (3,) and np.all(t > 0)
        with pytest.raises(RuntimeError, match="latency worker failed"):
            m.time_op("nonsense-in1x1x1", 1, 1)
        m.time_op("proj-in8x8x4-out4x4x8-s2", 0, 1)  # still serving after an error

from __future__ import annotations

import numpy as np
import pytest

from oneshot.latency import LatencyLUT, build_lut, fixed_keys, layer_keys, space_keys
from oneshot.space import SearchSpace, load_space



def test_fake_timer_table_gives_exact_predictions(tmp_path, profile, fake_timer):
    space = load_space("nas_bench_macro")
    timer = fake_timer()
    lut = build_lut(space, profile, tmp_path / "t.csv", timer=timer, progress=False)
    assert timer.keys == set(space_keys(space))  # noops never measured
    assert len(timer.calls) == len(timer.keys) * profile.rounds
    assert all(r.n == profile.repeats for r in lut.rows.values())  # 2 rounds x ceil(4 / 2)
    archs = space.sample(np.random.default_rng(0), 100)
    keys = layer_keys(space)
    layer_ms = [[0.0 if k.startswith("identity-") else fake_timer.ms(k) for k in row] for row in keys]
    expected = [sum(layer_ms[i][c] for i, c in enumerate(a)) + sum(fake_timer.ms(k) for k in fixed_keys(space))
                for a in archs]
    loaded = LatencyLUT.load(tmp_path / "t.csv", profile=profile, space=space)
    assert loaded.predict(archs).tolist() == expected  # exact, not approximately
    meta = loaded.metadata
    assert meta["profile"] == "test_cpu" and meta["batch"] == "1" and meta["threads"] == "1"
    assert {"torch", "device", "date", "source"} <= set(meta)


def test_resume_measures_only_missing_keys(tmp_path, profile, fake_timer):
    space = load_space("nas_bench_macro")
    path = tmp_path / "t.csv"
    first = fake_timer(fail_after=9)  # interrupted while measuring the second chunk (keys 9..16)
    with pytest.raises(KeyboardInterrupt):
        build_lut(space, profile, path, timer=first, progress=False, chunk=4)
    partial = LatencyLUT.load(path)
    assert len(partial) == 8  # two whole chunks of 4 were written
    second = fake_timer()
    lut = build_lut(space, profile, path, timer=second, progress=False, chunk=4)
    assert second.keys == set(space_keys(space)) - set(partial.keys())
    assert len(lut) == len(space_keys(space))
    third = fake_timer()
    build_lut(space, profile, path, timer=third, progress=False)
    assert third.calls == []  # nothing left to measure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # atomic writes leave no temp files


def test_one_table_covers_several_spaces(tmp_path, profile, fake_timer):
    a = load_space("nas_bench_macro")
    b = SearchSpace({**a.to_config(), "name": "wider_head", "head_channels": 640})
    path = tmp_path / "t.csv"
    build_lut(a, profile, path, timer=fake_timer(), progress=False)
    timer = fake_timer()
    lut = build_lut([a, b], profile, path, timer=timer, progress=False)
    assert timer.keys == {"head-in4x4x256-c640-out10-relu"}  # every other shape is shared
    assert lut.predict([[1] * 8], b).shape == (1,)


def test_resume_refuses_another_profile(tmp_path, profile, fake_timer):
    from dataclasses import replace

    from oneshot.latency import LUTMismatchError

    space = load_space("nas_bench_macro")
    build_lut(space, profile, tmp_path / "t.csv", timer=fake_timer(), progress=False)
    with pytest.raises(LUTMismatchError):
        build_lut(space, replace(profile, batch=8), tmp_path / "t.csv", timer=fake_timer(), progress=False)


def test_real_measurement_in_process(tmp_path, profile, tiny_space):
    lut = build_lut(tiny_space, profile, tmp_path / "t.csv", progress=False, isolate=False)
    assert set(lut.keys()) == set(space_keys(tiny_space))
    for row in lut.rows.values():
        assert 0 < row.p25 <= row.median_ms <= row.p75 and row.n == 4
    assert np.all(lut.predict(tiny_space.sample(np.random.default_rng(0), 5), tiny_space) > 0)

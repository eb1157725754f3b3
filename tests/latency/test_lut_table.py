from __future__ import annotations

import time

import numpy as np
import pytest

from oneshot.latency import (DeviceProfile, LatencyLUT, LUTMismatchError, MissingKeysError, Row, fixed_keys,
                             layer_keys, space_keys)
from oneshot.space import load_space


def random_table(space, seed=0, profile="test_cpu") -> LatencyLUT:
    rng = np.random.default_rng(seed)
    rows = {k: Row(float(v), float(v) * 0.9, float(v) * 1.1, 7) for k, v in
            zip(space_keys(space), rng.uniform(0.01, 5.0, size=len(space_keys(space))), strict=True)}
    return LatencyLUT(rows, {"profile": profile, "kind": "cpu", "batch": "1", "threads": "1", "source": "measured"})


@pytest.mark.parametrize("name", ["nas_bench_macro", "mobilenet_like"])
def test_predict_equals_sum_of_rows(name):
    space = load_space(name)
    lut = random_table(space)
    archs = space.sample(np.random.default_rng(1), 200)
    keys = layer_keys(space)
    expected = [sum(lut.latency(keys[i][c]) for i, c in enumerate(a)) + sum(lut.latency(k) for k in fixed_keys(space))
                for a in archs]
    np.testing.assert_allclose(lut.predict(archs, space), expected, rtol=1e-12)
    np.testing.assert_allclose(lut.predict(np.array(archs), space, include_fixed=False),
                               np.array(expected) - sum(lut.latency(k) for k in fixed_keys(space)), rtol=1e-12)
    lo, hi = lut.model(space).bounds()
    assert lo <= min(expected) and hi >= max(expected)


def test_save_load_round_trip_is_exact(tmp_path, profile):
    space = load_space("nas_bench_macro")
    lut = random_table(space, profile=profile.name)
    lut.set_correction(1.25, -0.5, space="nas_bench_macro", n=20)
    path = lut.save(tmp_path / "luts" / "t.csv")
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]  # no temp file left
    back = LatencyLUT.load(path, profile=profile, space=space)
    assert back.rows == lut.rows and back.correction == (1.25, -0.5)
    archs = space.sample(np.random.default_rng(0), 50)
    np.testing.assert_array_equal(back.predict(archs), lut.predict(archs, space))  # corrected by the profile
    np.testing.assert_allclose(back.predict(archs, corrected=False) * 1.25 - 0.5, back.predict(archs))
    text = path.read_text()
    assert text.splitlines()[0].startswith("# format:") and "key,median_ms,p25,p75,n" in text


def test_missing_keys_error_names_keys_and_command():
    space = load_space("nas_bench_macro")
    lut = random_table(space)
    gone = layer_keys(space)[5][2]
    del lut.rows[gone]
    with pytest.raises(MissingKeysError) as err:
        lut.predict([[0] * 8], space)
    assert gone in str(err.value) and err.value.missing == [gone]
    assert "oneshot-lut device=test_cpu space=nas_bench_macro" in str(err.value)


def test_missing_file_says_how_to_measure(tmp_path, profile):
    with pytest.raises(FileNotFoundError, match="oneshot-lut device=test_cpu space=nas_bench_macro"):
        LatencyLUT.load(tmp_path / "none.csv", profile=profile, space=load_space("nas_bench_macro"))


def test_metadata_mismatch_is_refused_unless_forced(tmp_path, profile, caplog):
    space = load_space("nas_bench_macro")
    path = random_table(space, profile=profile.name).save(tmp_path / "t.csv")
    other = DeviceProfile(name="test_cpu", kind="cpu", threads=2, batch=32)
    with pytest.raises(LUTMismatchError, match="batch"):
        LatencyLUT.load(path, profile=other)
    with pytest.raises(LUTMismatchError, match="profile"):
        LatencyLUT.load(path, profile=DeviceProfile(name="cpu_2t", threads=1))
    lut = LatencyLUT.load(path, profile=other, force=True)
    assert "mismatched" in caplog.text and len(lut) == len(space_keys(space))


def test_correction_requested_but_absent():
    space = load_space("nas_bench_macro")
    lut = random_table(space)
    with pytest.raises(ValueError, match="oneshot-lut validate"):
        lut.predict([[0] * 8], space, corrected=True)
    lut.use_correction = True  # as a profile with latency_correction: true would set it
    assert lut.predict([[0] * 8], space).shape == (1,)  # warns, plain sum


def test_predict_checks_archs():
    space = load_space("nas_bench_macro")
    lut = random_table(space)
    with pytest.raises(ValueError, match="layers"):
        lut.predict([[0] * 7], space)
    with pytest.raises(ValueError, match="layer 3"):
        lut.predict([[0, 0, 0, 3, 0, 0, 0, 0]], space)


def test_predict_100k_archs_is_fast():
    space = load_space("mobilenet_like")
    lut = random_table(space)
    genomes = np.random.default_rng(0).integers(0, space.num_choices, size=(100_000, space.num_layers))
    lut.predict(genomes[:10], space)  # compile the table
    t0 = time.perf_counter()
    out = lut.predict(genomes, space)
    assert out.shape == (100_000,)
    assert time.perf_counter() - t0 < 2.0  # ~30 ms here; generous for a loaded CI machine


def _saved_table(tmp_path, profile):
    space = load_space("nas_bench_macro")
    return random_table(space, profile=profile.name).save(tmp_path / "t.csv")


def _replace_row(path, index: int, fields: str) -> int:
    """Replace the ``index``-th data row's numbers with ``fields``; returns its 1-based line number."""
    lines = path.read_text().splitlines()
    header = lines.index("key,median_ms,p25,p75,n")
    line = header + 1 + index
    lines[line] = lines[line].split(",")[0] + "," + fields
    path.write_text("\n".join(lines) + "\n")
    return line + 1


@pytest.mark.parametrize("fields, problem", [
    ("-49.0,-50.0,-48.0,5", r"median_ms=-49.0 must be a finite time > 0 ms"),
    ("nan,0.1,0.2,5", r"median_ms=nan must be a finite time > 0 ms"),
    ("inf,0.1,0.2,5", r"median_ms=inf must be a finite time > 0 ms"),
    ("0.0,0.0,0.0,5", r"median_ms=0.0 must be a finite time > 0 ms"),
    ("1.0,1.5,2.0,5", r"needs p25 <= median_ms <= p75"),
    ("1.0,0.5,0.8,5", r"needs p25 <= median_ms <= p75"),
    ("1.0,0.5,2.0,-1", r"n=-1 must be a count"),
])
def test_bad_rows_are_refused_with_file_and_line(tmp_path, profile, fields, problem):
    path = _saved_table(tmp_path, profile)
    line = _replace_row(path, 3, fields)
    with pytest.raises(ValueError, match=rf"t\.csv:{line}: bad row for '.*': {problem}"):
        LatencyLUT.load(path, profile=profile)


def test_duplicate_key_is_refused_with_both_lines(tmp_path, profile):
    path = _saved_table(tmp_path, profile)
    lines = path.read_text().splitlines()
    first = lines.index("key,median_ms,p25,p75,n") + 2
    path.write_text("\n".join(lines + [lines[first - 1]]) + "\n")
    with pytest.raises(ValueError, match=rf"t\.csv:{len(lines) + 1}: duplicate key '.*' \(first at line {first}\)"):
        LatencyLUT.load(path, profile=profile)


def test_binary_file_names_the_file(tmp_path, profile):
    path = tmp_path / "cpu.csv"
    path.write_bytes(b"# format: x\n\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"cpu\.csv:2: not UTF-8 text"):
        LatencyLUT.load(path, profile=profile)

"""benchmarks/ranking_cifar10.py keeps earlier runs' rows intact when it adds a sampler's."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ranking_cifar10.py"


def _script():
    spec = importlib.util.spec_from_file_location("ranking_cifar10", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_merge_keeps_old_rows_and_the_leading_zeros_of_their_archs(tmp_path):
    path = tmp_path / "picks.csv"
    old = pd.DataFrame({"predictor": ["params", "flops"], "arch": ["00000110", "00011200"],
                        "sampler": ["fair", "uniform"], "sample_seed": [1, 1]})
    old.to_csv(path, index=False)
    new = pd.DataFrame({"predictor": ["params"], "arch": ["00000012"], "sampler": ["fair"], "sample_seed": [1]})
    _script()._merge(path, new)
    merged = pd.read_csv(path, dtype={"arch": str})
    assert sorted(merged.arch) == ["00000012", "00011200"]  # fair/1 replaced, uniform/1 kept as written

"""benchmarks/ranking_cifar10.py: merging with earlier runs, naming configurations."""
from __future__ import annotations

import pandas as pd
import pytest


def test_merge_keeps_old_rows_and_the_leading_zeros_of_their_archs(tmp_path, benchmark_script):
    path = tmp_path / "picks.csv"
    old = pd.DataFrame({"predictor": ["params", "flops"], "arch": ["00000110", "00011200"],
                        "sampler": ["fair", "uniform"], "sample_seed": [1, 1]})
    old.to_csv(path, index=False)
    new = pd.DataFrame({"predictor": ["params"], "arch": ["00000012"], "sampler": ["fair"], "sample_seed": [1]})
    benchmark_script("ranking_cifar10")._merge(path, new)
    merged = pd.read_csv(path, dtype={"arch": str})
    assert sorted(merged.arch) == ["00000012", "00011200"]  # fair/1 replaced, uniform/1 kept as written


def test_label_names_a_configuration_else_sampler_and_options(benchmark_script):
    module = benchmark_script("ranking_cifar10")
    assert module._label("uniform:canonical=true", None) == ("uniform", [("canonical", "true")], "uniform_canonical")
    assert module._label("fair", "fair_fewshot_l0") == ("fair", [], "fair_fewshot_l0")


def test_label_with_two_samplers_is_refused(monkeypatch, capsys, benchmark_script):
    module = benchmark_script("ranking_cifar10")
    monkeypatch.setattr("sys.argv", ["ranking_cifar10.py", "--samplers", "fair", "uniform", "--label", "x"])
    with pytest.raises(SystemExit) as exit_info:
        module._args()
    assert exit_info.value.code == 2
    assert "--label names one configuration" in capsys.readouterr().err


def test_row_keeps_the_fused_pick_out_of_the_proxies(benchmark_script):
    from types import SimpleNamespace

    picks = {"supernet": {"30M": {"regret": 1.0, "per_seed": [1.5, 0.5]}},
             "fused_naswot": {"30M": {"regret": 0.1, "per_seed": [0.1, 0.1]}},  # better than every proxy
             "non_identity": {"30M": {"regret": 0.43}}, "flops": {"30M": {"regret": 4.6}},
             "random": {"30M": {"regret": 7.3}}}
    summary = {"n": 3, "tau": 0.5, "tau_ci_low": 0.1, "tau_ci_high": 0.9, "rho": 0.6, "top_k_overlap": 1.0,
               "proxies": {}, "constrained": {"supernet": {}}, "vs_best_proxy_by_metric": {}, "picks": picks}
    args = SimpleNamespace(fidelity="cpu", caps=[30e6], fuse="naswot")
    state = {"train": {"step": 1}, "history": []}
    row = benchmark_script("ranking_cifar10")._row("fair", 0, args, SimpleNamespace(summary=summary), state, 60.0, 6.0)
    assert row["best_proxy_pick_30M"] == "non_identity" and row["best_proxy_regret_30M"] == 0.43
    assert row["fused_regret_30M"] == 0.1 and row["fused_regret_30M_per_seed"] == "0.10 0.10"
    assert row["supernet_regret_30M"] == 1.0 and row["supernet_regret_30M_per_seed"] == "1.50 0.50"
    assert row["random_regret_30M"] == 7.3

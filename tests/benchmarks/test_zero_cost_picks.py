"""benchmarks/zero_cost_picks.py: adding proxies and caps run by run."""
from __future__ import annotations

import pandas as pd
import pytest


def test_merge_keeps_the_caps_and_proxies_a_run_did_not_score(benchmark_script):
    old = pd.DataFrame({"predictor": ["naswot", "naswot", "flops", "flops"], "cap": [30e6, 60e6, 30e6, 60e6],
                        "regret": [1.0, 2.0, 4.6, 2.5]})
    new = pd.DataFrame({"predictor": ["jacob_cov", "flops"], "cap": [30e6, 30e6], "regret": [0.7, 4.6]})
    merged = benchmark_script("zero_cost_picks").merge(old, new).set_index(["predictor", "cap"]).regret
    assert merged.to_dict() == {("naswot", 30e6): 1.0, ("naswot", 60e6): 2.0, ("flops", 60e6): 2.5,
                                ("jacob_cov", 30e6): 0.7, ("flops", 30e6): 4.6}


def test_markdown_leaves_a_cap_a_proxy_was_not_run_on_empty(benchmark_script):
    picks = pd.DataFrame({"predictor": ["naswot", "naswot", "jacob_cov"], "cap": [30e6, 60e6, 30e6],
                          "regret": [1.0, 2.0, 0.7]})
    md = benchmark_script("zero_cost_picks")._markdown(picks)
    assert "| naswot | 1.00 | 2.00 |" in md and "| jacob_cov | 0.70 |  |" in md


def test_a_cap_below_the_cheapest_network_is_one_clear_line(nas_bench_macro_json, benchmark_script, monkeypatch,
                                                              capsys):
    monkeypatch.setattr("sys.argv", ["zero_cost_picks.py", "--proxies", "naswot", "--caps", "1e6", "30e6"])
    with pytest.raises(SystemExit) as exit_info:
        benchmark_script("zero_cost_picks").main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--caps 1e+06 admits no network" in err and len(err.strip().splitlines()) == 1

"""benchmarks/zero_cost_picks.py: adding proxies and caps run by run."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "zero_cost_picks.py"


def _script():
    spec = importlib.util.spec_from_file_location("zero_cost_picks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_merge_keeps_the_caps_and_proxies_a_run_did_not_score():
    old = pd.DataFrame({"predictor": ["naswot", "naswot", "flops", "flops"], "cap": [30e6, 60e6, 30e6, 60e6],
                        "regret": [1.0, 2.0, 4.6, 2.5]})
    new = pd.DataFrame({"predictor": ["jacob_cov", "flops"], "cap": [30e6, 30e6], "regret": [0.7, 4.6]})
    merged = _script().merge(old, new).set_index(["predictor", "cap"]).regret
    assert merged.to_dict() == {("naswot", 30e6): 1.0, ("naswot", 60e6): 2.0, ("flops", 60e6): 2.5,
                                ("jacob_cov", 30e6): 0.7, ("flops", 30e6): 4.6}


def test_markdown_leaves_a_cap_a_proxy_was_not_run_on_empty():
    picks = pd.DataFrame({"predictor": ["naswot", "naswot", "jacob_cov"], "cap": [30e6, 60e6, 30e6],
                          "regret": [1.0, 2.0, 0.7]})
    md = _script()._markdown(picks)
    assert "| naswot | 1.00 | 2.00 |" in md and "| jacob_cov | 0.70 |  |" in md

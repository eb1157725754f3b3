"""benchmarks/dnas_macro.py: both paths from one trained supernet (--init-from), and the report."""
from __future__ import annotations

import pandas as pd
import pytest

from oneshot.workflows.train import train_supernet


def _row(method: str, seconds: float, train_seconds: float | None, accuracy: float = 90.0) -> dict:
    return {"method": method, "metric": "flops", "target": 30e6, "seed": 0, "arch": "00000000",
            "true_accuracy": accuracy, "cost": 20e6, "feasible": True, "seconds": seconds,
            "table_best_arch": "10110100", "table_best_accuracy": 91.0, "table_best_cost": 27e6,
            "train_seconds": train_seconds}


def test_report_counts_a_shared_training_in_every_row_that_used_it(benchmark_script):
    rows = pd.DataFrame([_row("proxyless", 120, 3000), _row("two_stage", 60, 3000, 89.5), _row("gdas", 600, None)])
    md = benchmark_script("dnas_macro").report(rows)
    assert "| flops <= 30.0M | proxyless | 1 | 00000000 | 90.00 | 20.0M | 1/1 | 1.00 | 52.0 |" in md
    assert "| flops <= 30.0M | two_stage | 1 | 00000000 | 89.50 | 20.0M | 1/1 | 1.50 | 51.0 |" in md
    assert "| flops <= 30.0M | gdas | 1 | 00000000 | 90.00 | 20.0M | 1/1 | 1.00 | 10.0 |" in md


def test_init_from_reads_the_training_time_and_sampler(benchmark_script, make_cfg, tmp_path):
    cfg = make_cfg("train", "data=synthetic", "data.train_images=96", "data.val_images=32", "train=tiny",
                   "train.max_steps=null", "train.epochs=2", "sampler=fair", "runtime.progress=false",
                   "runtime.device=cpu", f"checkpoint={tmp_path}/one.pt")
    ckpt = train_supernet(cfg, tmp_path / "one")
    history = pd.read_csv(tmp_path / "one" / "metrics.csv")
    shared = benchmark_script("dnas_macro").shared_supernet(str(ckpt))
    assert shared["sampler"] == "fair" and shared["checkpoint"] == ckpt
    assert shared["seconds"] == pytest.approx(history["seconds"].sum(), abs=0.1) and shared["seconds"] > 0


def test_init_from_a_missing_or_unfinished_checkpoint_is_one_line_exit_2(benchmark_script, make_cfg, tmp_path,
                                                                         capsys):
    script = benchmark_script("dnas_macro")
    with pytest.raises(SystemExit) as missing:
        script.shared_supernet(str(tmp_path / "none.pt"))
    partial = train_supernet(make_cfg("train", "data=synthetic", "data.train_images=96", "data.val_images=32",
                                      "train=tiny", "train.max_steps=1", "runtime.progress=false",
                                      "runtime.device=cpu", f"checkpoint={tmp_path}/p.pt"), tmp_path / "p")
    with pytest.raises(SystemExit) as unfinished:
        script.shared_supernet(str(partial))
    assert missing.value.code == unfinished.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "not found" in lines[0] and "not a completely trained" in lines[1]

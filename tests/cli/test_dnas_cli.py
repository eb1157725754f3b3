"""`oneshot-dnas` end to end on digits: best_subnet.json that oneshot-retrain and oneshot-export take."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONWARNINGS": "ignore"}
QUICK = ("runtime.progress=false", "runtime.device=cpu", "runtime.threads=1", f"hydra.searchpath=[file://{REPO}/tests/conf]",
         "space=tiny")


def _run(app, *args, cwd):
    out = subprocess.run([sys.executable, "-m", f"oneshot.cli.{app}", *args, *QUICK], cwd=cwd, env=ENV,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


def test_dnas_on_digits_writes_a_subnet_retrain_and_export_accept(tmp_path):
    _run("dnas", "method=proxyless", "train=tiny", "train.max_steps=null", "train.epochs=2", "train.batch_size=64",
         "method.warmup_epochs=0.5", "cost.form=hinge", "cost.weight=1.0", "cost.target=4e5",
         "checkpoint=ckpt/dnas.pt", "out_dir=out", cwd=tmp_path)
    best = json.loads((tmp_path / "out" / "best_subnet.json").read_text())
    assert best["space"] == "tiny" and best["dnas"]["method"] == "proxyless" and best["dnas"]["alpha_steps"] > 0
    assert 0 <= best["accuracy"] <= 100 and best["dnas"]["cost_target"] == 4e5
    alpha = pd.read_csv(tmp_path / "out" / "alpha.csv")
    assert sorted(alpha["epoch"].unique()) == [0, 1, 2]
    final = alpha[alpha["epoch"] == 2].groupby("layer")["prob"].sum()
    assert ((final - 1).abs() < 1e-5).all()
    assert str(alpha[alpha["epoch"] == 2]["derived_arch"].iloc[0]).zfill(5) == best["arch"]
    assert (tmp_path / "out" / "alpha.png").stat().st_size > 0
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert {"derived_arch", "expected_cost", "arch_loss"} <= set(metrics.columns)
    _run("retrain", f"arch={best['arch']}", "train=tiny", "out_dir=re", cwd=tmp_path)
    assert list((tmp_path / "re").glob("standalone_*.pt"))
    _run("export", "checkpoint=ckpt/dnas.pt", "export.subnet=out/best_subnet.json", "export.formats=[state_dict]",
         "export.recal_images=64", "export.check_images=32", "out_dir=ex", cwd=tmp_path)
    assert list((tmp_path / "ex").rglob("*")), "export wrote nothing"


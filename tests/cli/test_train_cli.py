import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from oneshot.train import load_checkpoint
from oneshot.workflows.train import train_supernet

ENV = {**os.environ, "HYDRA_FULL_ERROR": "0"}


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "oneshot.cli.train", *args], capture_output=True, text=True,
                          cwd=cwd, env=ENV, timeout=300)


def test_cfg_job_prints_the_composed_config():
    out = _run("--cfg", "job", "sampler=fair")
    assert out.returncode == 0, out.stderr
    assert "name: fair" in out.stdout and "nas_bench_macro" in out.stdout


def test_typo_in_a_config_key_fails_at_start_naming_the_key():
    out = _run("train.lrr=0.1")
    assert out.returncode != 0
    assert "Key 'lrr' not in 'TrainSchema'" in out.stderr + out.stdout


def test_unknown_group_option_lists_the_choices():
    out = _run("sampler=unifrom")
    assert out.returncode != 0
    assert "unifrom" in out.stderr and "uniform" in out.stderr


def test_tiny_train_run_writes_checkpoint_and_metrics(make_cfg, tmp_path):
    cfg = make_cfg("train", "data=synthetic", "train=tiny", "train.max_steps=null", "train.batch_size=64",
                   f"checkpoint={tmp_path}/s.pt", "runtime.progress=false", "runtime.device=cpu")
    ckpt = train_supernet(cfg, tmp_path)
    state = load_checkpoint(ckpt)
    assert state["train"]["complete"] and state["space"]["name"] == "nas_bench_macro"
    assert state["config"]["sampler"]["name"] == "uniform"
    assert len(pd.read_csv(tmp_path / "metrics.csv")) == 1


def test_sampler_option_of_another_sampler_is_refused(make_cfg, tmp_path):
    cfg = make_cfg("train", "data=synthetic", "train=tiny", "sampler.flops_max=3e7", f"checkpoint={tmp_path}/s.pt")
    with pytest.raises(ValueError, match=r"sampler 'uniform' does not take option\(s\) \['flops_max'\]"):
        train_supernet(cfg, tmp_path)


def test_bad_arch_on_the_command_line_is_one_clear_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "oneshot.cli.retrain", "arch=2221", "data=synthetic",
                          "train=tiny", f"out_dir={tmp_path}"], capture_output=True, text=True, env=ENV, timeout=300)
    assert out.returncode == 2
    assert "error: arch '2221' has 4 layers, space 'nas_bench_macro' has 8" in out.stderr
    assert "Traceback" not in out.stderr


def test_fair_sampler_trains_end_to_end(make_cfg, tmp_path):
    cfg = make_cfg("train", "data=synthetic", "train=tiny", "sampler=fair", f"checkpoint={tmp_path}/f.pt",
                   "runtime.progress=false", "runtime.device=cpu")
    state = load_checkpoint(train_supernet(cfg, tmp_path))
    # 8 batches of 32 in the epoch; each fair step trains 3 archs on a batch each: 3 steps
    assert state["sampler"]["name"] == "fair" and state["train"]["step"] == 3
    assert state["train"]["batch"] == 9 and state["train"]["complete"]


def _train_sandwich(make_cfg, tmp_path, name, *overrides):
    cfg = make_cfg("train", "data=synthetic", "train=tiny", "sampler=sandwich", f"checkpoint={tmp_path}/{name}.pt",
                   "runtime.progress=false", "runtime.device=cpu", *overrides)
    return load_checkpoint(train_supernet(cfg, tmp_path / name))


def test_sandwich_sampler_trains_end_to_end_and_distillation_changes_the_weights(make_cfg, tmp_path):
    with_kd = _train_sandwich(make_cfg, tmp_path, "kd", "sampler.archs_per_step=1")
    without = _train_sandwich(make_cfg, tmp_path, "plain", "sampler.archs_per_step=1", "sampler.kd_weight=0")
    assert with_kd["sampler"]["name"] == "sandwich"
    assert with_kd["train"]["step"] == without["train"]["step"] == 4  # train=tiny: max_steps=4
    a, b = with_kd["model"], without["model"]
    differ = [k for k in a if a[k].is_floating_point() and not torch.equal(a[k], b[k])]
    assert differ, "kd_weight had no effect on training"


def test_retrain_one_arch_from_scratch_and_from_the_supernet(make_cfg, tmp_path):
    from oneshot.workflows.train import train_standalone

    sup = make_cfg("train", "data=synthetic", "train=tiny", f"checkpoint={tmp_path}/s.pt", "runtime.progress=false")
    ckpt = train_supernet(sup, tmp_path)
    cfg = make_cfg("retrain", "data=synthetic", "train=tiny", "arch=22212220", "runtime.progress=false")
    scratch = load_checkpoint(train_standalone(cfg, tmp_path / "scratch", "22212220"))
    assert scratch["kind"] == "standalone" and scratch["arch"] == "22212220"
    tuned = load_checkpoint(train_standalone(cfg, tmp_path / "tuned", "22212220", inherit=ckpt))
    assert tuned["inherited_from"] == str(ckpt)


def test_ctrl_c_ends_with_one_line_naming_the_checkpoint_and_the_resume_command(tmp_path):
    import shlex
    import signal
    import time

    ckpt = tmp_path / "s.pt"
    args = ["data=synthetic", "train=tiny", "train.max_steps=null", "train.epochs=100", "train.checkpoint_every=1",
            "train.resume=false", f"checkpoint={ckpt}", f"out_dir={tmp_path}", "runtime.progress=false",
            "runtime.device=cpu", "runtime.threads=1"]
    # A suite started in the background (`pytest ... &`) hands its children SIGINT ignored, and Python then
    # installs no Ctrl-C handler: the child must start with SIGINT at its default, as in a terminal.
    # -X faulthandler: if it ever hangs after Ctrl-C anyway, SIGABRT prints every thread's stack.
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "oneshot.cli.train", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"no exit 120 s after Ctrl-C; its stacks:\n{err[-6000:]}\nstdout tail:\n{out[-2000:]}")
    assert proc.returncode == 130, err
    assert "Traceback" not in err + out
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted at step ") and f"resumable checkpoint saved to {ckpt}" in last
    command = shlex.split(last.split("resume with: ", 1)[1])
    assert command[:3] == ["python", "-m", "oneshot.cli.train"] and "train.resume=true" in command
    assert "train.resume=false" not in command
    step = load_checkpoint(ckpt)["train"]["step"]
    assert step >= 1
    resumed = subprocess.run([sys.executable, *command[1:], f"train.max_steps={step + 2}"], capture_output=True,
                             text=True, env=ENV, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed {ckpt} at step {step}" in resumed.stderr + resumed.stdout
    assert load_checkpoint(ckpt)["train"]["step"] == step + 2


def test_tensorboard_and_reference_subnet_columns_on_the_tiny_synthetic_setup(make_cfg, tmp_path):
    pytest.importorskip("tensorboard", reason="runtime.tensorboard=true needs the tensorboard package")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg("train", "data=synthetic", "train=tiny", "train.max_steps=null", "train.batch_size=64",
                   "runtime.tensorboard=true", "train.reference_recal_images=32", "train.reference_val_images=32",
                   f"checkpoint={tmp_path}/s.pt", "runtime.progress=false", "runtime.device=cpu")
    train_supernet(cfg, tmp_path)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    columns = ["ref_smallest_acc", "ref_middle_acc", "ref_largest_acc"]
    assert set(columns) <= set(metrics.columns)
    assert metrics[columns].notna().all().all() and ((metrics[columns] >= 0) & (metrics[columns] <= 100)).all().all()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/acc", "train/lr", "train/images_per_s", *(f"epoch/{c}" for c in columns)} <= set(
        events.Tags()["scalars"])

    off = make_cfg("train", "data=synthetic", "train=tiny", "train.reference_subnets=false",
                   f"checkpoint={tmp_path}/off.pt", "runtime.progress=false", "runtime.device=cpu")
    train_supernet(off, tmp_path / "off")
    assert not any(c.startswith("ref_") for c in pd.read_csv(tmp_path / "off" / "metrics.csv").columns)
    assert not (tmp_path / "off" / "tensorboard").exists()

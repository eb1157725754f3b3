"""Few-shot end to end: one-shot checkpoint -> `oneshot-train supernet=few_shot` -> evaluator."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from oneshot.supernet.few_shot import FewShotSuperNet
from oneshot.train import load_checkpoint
from oneshot.build import evaluator_from_config
from oneshot.workflows.train import train_supernet

ENV = {**os.environ, "HYDRA_FULL_ERROR": "0"}
SMALL = ["data=synthetic", "data.train_images=96", "data.val_images=32", "train=tiny", "runtime.progress=false",
         "runtime.device=cpu"]


@pytest.fixture
def one_shot(make_cfg, tmp_path):
    cfg = make_cfg("train", *SMALL, "train.max_steps=2", f"checkpoint={tmp_path}/one.pt")
    return train_supernet(cfg, tmp_path / "one")


def test_few_shot_cli_trains_resumes_and_is_evaluated(make_cfg, one_shot, tmp_path):
    few = tmp_path / "few.pt"
    out = subprocess.run([sys.executable, "-m", "oneshot.cli.train", "supernet=few_shot", "supernet.split_layers=[1]",
                          f"supernet.init_from={one_shot}", "sampler=fair", *SMALL, "train.epochs=3", "train.max_steps=3",
                          f"checkpoint={few}", f"out_dir={tmp_path}/few"],
                         capture_output=True, text=True, env=ENV, timeout=600)
    assert out.returncode == 0, out.stderr
    state = load_checkpoint(few)
    assert state["supernet"]["split_layers"] == [1] and state["supernet"]["slices"] == [[0], [1], [2]]
    assert state["supernet"]["init_from"] == str(one_shot) and state["train"]["step"] == 3
    assert state["sampler"]["name"] == "few_shot" and len(state["sampler"]["slices"]) == 3
    # every sub-supernet started from the one-shot weights and was trained one turn
    start = load_checkpoint(one_shot)["model"]
    for k in range(3):
        moved = [key for key, v in start.items() if not torch.equal(state["model"][f"subnets.{k}.{key}"], v)]
        assert moved and all(key.startswith(("layers", "stem", "head")) for key in moved)
        assert not any(key.startswith(f"layers.1.{c}.") for key in moved for c in range(3) if c != k)

    # resuming into another split is one clear error
    other = make_cfg("train", *SMALL, "supernet=few_shot", "supernet.split_layers=[2]",
                     f"supernet.init_from={one_shot}", f"checkpoint={few}")
    with pytest.raises(ValueError, match=r"cannot resume .* split layers \[1\], this run splits layers \[2\]"):
        train_supernet(other, tmp_path / "other")

    # search / rank load it unchanged: the evaluator routes each arch to its sub-supernet
    cfg = make_cfg("search", *SMALL, f"checkpoint={few}", "evaluator.recal_images=32", "evaluator.val_images=32",
                   "evaluator.batch_size=32", "evaluator.recal_batch_size=32", f"evaluator.cache={tmp_path}/c.sqlite")
    evaluator = evaluator_from_config(cfg)
    assert isinstance(evaluator.model, FewShotSuperNet)
    df = evaluator.evaluate(["00000000", "21212121", "22222222"])
    assert df.accuracy.between(0, 100).all() and not df.cached.any()


def test_init_from_must_be_a_one_shot_checkpoint_and_not_the_output(make_cfg, one_shot, tmp_path):
    same = make_cfg("train", *SMALL, "supernet=few_shot", f"supernet.init_from={one_shot}", f"checkpoint={one_shot}")
    with pytest.raises(ValueError, match="would overwrite the one-shot checkpoint"):
        train_supernet(same, tmp_path / "x")
    bad = make_cfg("train", *SMALL, "supernet=few_shot", "sampler=uniform_constraint", "sampler.flops_max=4e7",
                   f"supernet.init_from={one_shot}", f"checkpoint={tmp_path}/few.pt")
    with pytest.raises(ValueError, match="cannot be restricted to a few-shot slice"):
        train_supernet(bad, tmp_path / "y")


def test_the_cifar_few_shot_recipe_composes(make_cfg):
    cfg = make_cfg("train", "data=cifar10_npz", "train=cifar_few_shot", "sampler=fair", "supernet=few_shot",
                   "supernet.init_from=checkpoints/cifar_fair.pt", "name=cifar_fair_fewshot")
    assert list(cfg.supernet.split_layers) == [0] and cfg.supernet.sharing == "separate"
    assert cfg.train.epochs == 9 and cfg.supernet.epochs_per_slice is None and cfg.supernet.steps_per_turn == 1

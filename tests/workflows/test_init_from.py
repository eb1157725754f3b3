"""supernet.init_from: oneshot-dnas and oneshot-train start from a trained one-shot supernet."""
from __future__ import annotations

import pytest
import torch

from oneshot.train import load_checkpoint
from oneshot.train.checkpoint import save_checkpoint
from oneshot.workflows.dnas import run_dnas
from oneshot.workflows.init_from import one_shot_start
from oneshot.workflows.train import train_supernet

SMALL = ["data=synthetic", "data.train_images=96", "data.val_images=32", "train=tiny", "runtime.progress=false",
         "runtime.device=cpu", "evaluator=quick", "evaluator.recal_images=32", "evaluator.val_images=32",
         "evaluator.cache=null"]
DNAS = [*SMALL, "train.batch_size=16", "method=proxyless", "method.warmup_epochs=0", "cost.target=5e7", "train.max_steps=1"]


@pytest.fixture
def one_shot(make_cfg, tmp_path):
    # another seed than the runs below: their own initialisation shares no weight with it
    cfg = make_cfg("train", *SMALL, "train.max_steps=2", "train.seed=7", f"checkpoint={tmp_path}/one.pt")
    return train_supernet(cfg, tmp_path / "one")


def _kernels(start: dict) -> set[str]:
    """The candidate ops' conv kernels (BN's initial ones and zeros are the same under any seed)."""
    return {k for k, v in start.items() if k.startswith("layers.") and v.dim() >= 2}


def _untouched(start: dict, state: dict) -> set[str]:
    """Kernels bit-identical to the one-shot start."""
    return {k for k in _kernels(start) if torch.equal(state["model"][k], start[k])}


def test_dnas_weights_start_from_the_one_shot_checkpoint(make_cfg, one_shot, tmp_path):
    start = load_checkpoint(one_shot)["model"]
    run_dnas(make_cfg("dnas", *DNAS, f"supernet.init_from={one_shot}", f"checkpoint={tmp_path}/d.pt"), tmp_path / "d")
    state = load_checkpoint(tmp_path / "d.pt")
    assert state["supernet"]["init_from"] == str(one_shot) and state["supernet"]["init_from_hash"]
    # one ProxylessNAS step trains one path: most candidate kernels are still the one-shot ones
    assert len(_untouched(start, state)) > len(_kernels(start)) // 2
    # without init_from the supernet starts from its own initialisation
    run_dnas(make_cfg("dnas", *DNAS, f"checkpoint={tmp_path}/s.pt"), tmp_path / "s")
    scratch = load_checkpoint(tmp_path / "s.pt")
    assert scratch["supernet"]["init_from"] is None
    assert not _untouched(start, scratch)


def test_resume_refuses_a_changed_start_and_a_dnas_checkpoint_is_not_a_start(make_cfg, one_shot, tmp_path):
    cfg = make_cfg("dnas", *DNAS, f"supernet.init_from={one_shot}", f"checkpoint={tmp_path}/d.pt")
    run_dnas(cfg, tmp_path / "d")
    state = load_checkpoint(one_shot)
    state["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in state["model"].items()}
    save_checkpoint(one_shot, state)  # same path, other content
    resume = make_cfg("dnas", *DNAS, "train.max_steps=2", f"supernet.init_from={one_shot}",
                      f"checkpoint={tmp_path}/d.pt")
    with pytest.raises(ValueError, match="started from another one-shot checkpoint"):
        run_dnas(resume, tmp_path / "d")
    run_dnas(make_cfg("dnas", *DNAS, f"checkpoint={tmp_path}/s.pt"), tmp_path / "s")
    with pytest.raises(ValueError, match="started from its own initialisation"):
        run_dnas(make_cfg("dnas", *DNAS, "train.max_steps=2", f"supernet.init_from={one_shot}",
                          f"checkpoint={tmp_path}/s.pt"), tmp_path / "s")
    with pytest.raises(ValueError, match="is not a one-shot separate-weights supernet"):
        run_dnas(make_cfg("dnas", *DNAS, f"supernet.init_from={tmp_path}/d.pt", f"checkpoint={tmp_path}/e.pt"),
                 tmp_path / "e")
    with pytest.raises(ValueError, match="would overwrite the one-shot checkpoint"):
        one_shot_start(str(one_shot), None, one_shot)


def test_train_continues_a_one_shot_supernet(make_cfg, one_shot, tmp_path):
    start = load_checkpoint(one_shot)["model"]
    cfg = make_cfg("train", *SMALL, "train.max_steps=1", "sampler=uniform", f"supernet.init_from={one_shot}",
                   f"checkpoint={tmp_path}/more.pt")
    state = load_checkpoint(train_supernet(cfg, tmp_path / "more"))
    assert state["supernet"]["init_from"] == str(one_shot)
    # one uniform step trains one path: most candidate kernels are still the one-shot ones
    assert len(_untouched(start, state)) > len(_kernels(start)) // 2
    scratch = load_checkpoint(train_supernet(make_cfg("train", *SMALL, "train.max_steps=1", "sampler=uniform",
                                                      f"checkpoint={tmp_path}/s.pt"), tmp_path / "s"))
    assert scratch["supernet"].get("init_from") is None and not _untouched(start, scratch)

"""Few-shot training from a config: split a trained one-shot checkpoint, one sampler per slice."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from .. import build
from ..sampling.few_shot import FewShotSampler
from ..space.space import SearchSpace
from ..supernet.few_shot import FewShotSuperNet
from .init_from import check_same_start, one_shot_start

log = logging.getLogger(__name__)


def is_few_shot(cfg: DictConfig) -> bool:
    return bool(cfg.supernet.get("split_layers"))


def few_shot_setup(cfg: DictConfig, space: SearchSpace,
                   ckpt: Path) -> tuple[FewShotSuperNet, FewShotSampler, dict[str, Any]]:
    """The split model (sub-supernets holding ``supernet.init_from``'s weights), its
    round-robin sampler and the ``supernet`` entry the checkpoint stores."""
    sc = cfg.supernet
    if sc.sharing != "separate":
        raise ValueError(f"supernet.split_layers needs supernet sharing 'separate', got {sc.sharing!r}: "
                         "few-shot splits the separate-weights supernet (use supernet=few_shot)")
    model = FewShotSuperNet(space, list(sc.split_layers))
    one_shot, start = one_shot_start(sc.init_from, space, ckpt)
    spec: dict[str, Any] = {**model.spec(), **start}
    if one_shot is not None:
        model.load_one_shot(one_shot)
    else:
        log.warning("few-shot split without supernet.init_from: the %d sub-supernets start as copies of one "
                    "freshly initialised supernet (the paper starts them from the trained one-shot weights)",
                    len(model.split))
    samplers = [build.sampler_from_config(cfg, space, allowed=model.split.allowed(k)) for k in range(len(model.split))]
    sampler = FewShotSampler(samplers, model.split.to_dict(), sc.steps_per_turn, sc.epochs_per_slice)
    log.info("few-shot split on layer(s) %s: %d sub-supernets (%s)", list(model.split.layers), len(model.split),
             "; ".join(model.split.describe(k) for k in range(len(model.split))))
    return model, sampler, spec


def check_resumable(state: dict[str, Any], spec: dict[str, Any], path: Path) -> None:
    """Refuse to resume ``path`` into another split or from another one-shot checkpoint."""
    stored = state.get("supernet") or {}
    if stored.get("split_layers") != spec["split_layers"]:
        held = f"split layers {stored['split_layers']}" if stored.get("split_layers") else "a one-shot supernet"
        raise ValueError(f"cannot resume {path}: it holds {held}, this run splits layers {spec['split_layers']}; "
                         "use a new checkpoint name or train.resume=false")
    check_same_start(state, spec, path)

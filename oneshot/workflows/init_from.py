"""``supernet.init_from``: start a run from a trained one-shot supernet's weights.

Few-shot NAS copies them into every sub-supernet; differentiable search (``oneshot-dnas``) starts
its weights from them, so stage one's training is the weight-only warm-up FBNet and ProxylessNAS
run first. Both refuse anything but a one-shot separate-weights ``oneshot-train`` checkpoint, and
refuse to resume a run that was started from a checkpoint whose content has changed since.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from .. import build
from ..space.space import SearchSpace
from ..train.checkpoint import read_checkpoint

log = logging.getLogger(__name__)


def one_shot_start(init_from: str | None, space: SearchSpace,
                   ckpt: Path) -> tuple[dict[str, torch.Tensor] | None, dict[str, Any]]:
    """The one-shot model state dict ``init_from`` holds (None without one) and the
    ``{"init_from", "init_from_hash"}`` entry the new run's checkpoint stores."""
    spec: dict[str, Any] = {"init_from": None, "init_from_hash": None}
    if not init_from:
        return None, spec
    source = build.resolve_path(init_from)
    if source.resolve() == Path(ckpt).resolve():
        raise ValueError(f"checkpoint={ckpt} is supernet.init_from itself: the run would overwrite "
                         "the one-shot checkpoint; give the run its own name= or checkpoint=")
    state, content_hash = read_checkpoint(source, space)  # one read: the weights and the hash
    stored = state.get("supernet") or {}
    if stored.get("split_layers") or stored.get("sharing", "separate") != "separate" \
            or state.get("kind", "supernet") != "supernet":
        raise ValueError(f"supernet.init_from={source} is not a one-shot separate-weights supernet "
                         f"(kind {state.get('kind')!r}, supernet {stored}): pass the checkpoint of "
                         "`oneshot-train` with supernet=separate")
    if not (state.get("train") or {}).get("complete", True):
        log.warning("%s is a partly trained one-shot checkpoint (step %s)", source, state["train"].get("step"))
    return state["model"], {"init_from": str(source), "init_from_hash": content_hash}


def check_same_start(state: dict[str, Any], spec: dict[str, Any], path: Path) -> None:
    """Refuse to resume the checkpoint ``state`` (read from ``path``) when this run names an
    ``init_from`` the stored run did not start from (another checkpoint, changed content, or none).
    Checkpoints older than the entry resume."""
    stored = state.get("supernet") or {}
    wanted = spec.get("init_from_hash")
    if not wanted or "init_from_hash" not in stored or stored["init_from_hash"] == wanted:
        return
    held = ("another one-shot checkpoint (or this one before its content changed)" if stored["init_from_hash"]
            else "its own initialisation, not a one-shot checkpoint")
    raise ValueError(f"cannot resume {path}: it was started from {held}, not from {spec['init_from']}; "
                     "use a new checkpoint name or train.resume=false")

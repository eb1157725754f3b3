"""Checkpoints: atomic writes, safe loads, and refusal of a checkpoint from another space."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_write_bytes
from ..space.space import SearchSpace
from ..errors import OneshotError

FORMAT = "oneshot-checkpoint"
VERSION = 1


class CheckpointError(OneshotError, RuntimeError):
    """A checkpoint is missing, corrupted, or belongs to another space."""


def save_checkpoint(path: "str | Path", state: dict[str, Any]) -> None:
    """Save ``state`` (plain containers and tensors only) atomically."""
    state = {"format": FORMAT, "version": VERSION, **state}
    atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: "str | Path", space: SearchSpace | None = None) -> dict[str, Any]:
    """Load with ``weights_only=True``; check format and (optionally) the space."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found: train one with `oneshot-train` or pass checkpoint=<path>")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated/garbled files
        raise CheckpointError(
            f"checkpoint {path} is corrupted or not a torch file ({type(e).__name__}: {str(e)[:120]}); "
            "re-train or restore it"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a oneshot checkpoint (no '{FORMAT}' marker)")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state['version']}; this oneshot reads <= {VERSION}")
    if space is not None:
        check_space(state, space, path)
    return state


def stored_space(state: dict[str, Any], path: "str | Path" = "checkpoint") -> SearchSpace:
    """The space a checkpoint was trained on (a CheckpointError if it does not record one)."""
    if not isinstance(state.get("space"), dict):
        raise CheckpointError(f"{path} records no 'space' entry: it was not written by oneshot-train or "
                              "oneshot-retrain; pass checkpoint=<a checkpoint they wrote>")
    return SearchSpace(state["space"])


def check_space(state: dict[str, Any], space: SearchSpace, path: "str | Path" = "checkpoint") -> None:
    stored = stored_space(state, path)
    if stored == space:
        return
    if stored.name != space.name:
        fix = f"pass space={stored.name} or a checkpoint trained on space {space.name!r}"
    else:  # same preset, other settings: name the settings that differ
        mine, theirs = space.to_config(), stored.to_config()
        diff = [f"space.{k}={theirs.get(k)!r} (not {mine.get(k)!r})" for k in sorted(set(mine) | set(theirs))
                if mine.get(k) != theirs.get(k)]
        fix = f"it was trained with {', '.join(diff)}: use those settings or a checkpoint trained with yours"
    raise CheckpointError(f"{path} was trained on space {stored.name!r} (fingerprint {stored.fingerprint()}), "
                          f"not {space.name!r} (fingerprint {space.fingerprint()}): {fix}")


def file_hash(path: "str | Path", chunk: int = 1 << 22) -> str:
    """sha256 of a file's content (the evaluator cache key of a checkpoint)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:32]


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

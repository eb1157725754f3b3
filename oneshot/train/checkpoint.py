"""Checkpoints: atomic writes, safe loads, and refusal of a checkpoint from another space.

A checkpoint is "good" only if every floating tensor in it (weights, BN buffers,
optimizer state) is finite: one that is not is never written, and refused on load.
A sha256 of the tensors' content (plus the structure and plain values around them)
is stored at save and verified at load, so a flipped byte is an error, not a
silently different network.
"""
from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any, Iterator

import torch

from ..io import atomic_write_bytes
from ..space.space import SearchSpace
from ..errors import OneshotError

log = logging.getLogger(__name__)

FORMAT = "oneshot-checkpoint"
VERSION = 1
CHECKSUM_KEY = "checksum"  # {"algorithm": "sha256", "value": hex} over everything else in the state


class CheckpointError(OneshotError, RuntimeError):
    """A checkpoint is missing, corrupted, or belongs to another space."""


class NonFiniteCheckpointError(CheckpointError):
    """A checkpoint's tensors hold NaN/inf: it is not written, and not used when found."""

    def __init__(self, message: str, tensors: list[str]):
        super().__init__(message)
        self.tensors = tensors


def _leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted path, leaf)`` of a nested dict/list/tuple, in a stable order."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, obj


def non_finite_tensors(state: Any) -> list[str]:
    """Dotted paths of the floating tensors in ``state`` that hold a NaN or inf."""
    return [name for name, t in _leaves(state)
            if isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex())
            and not bool(torch.isfinite(t).all())]


def content_checksum(state: dict[str, Any]) -> str:
    """sha256 over every entry of ``state`` but the checksum: paths, dtypes, shapes, tensor bytes, plain values."""
    h = hashlib.sha256()
    for name, leaf in _leaves({k: v for k, v in state.items() if k != CHECKSUM_KEY}):
        h.update(name.encode() + b"\0")
        if isinstance(leaf, torch.Tensor):
            t = leaf.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
        else:
            h.update(f"{type(leaf).__name__}:{leaf!r}".encode())
        h.update(b"\0")
    return h.hexdigest()


def _describe(tensors: list[str], limit: int = 3) -> str:
    shown = ", ".join(tensors[:limit]) + (f" and {len(tensors) - limit} more" if len(tensors) > limit else "")
    return f"{len(tensors)} tensor(s) ({shown})"


def save_checkpoint(path: "str | Path", state: dict[str, Any]) -> None:
    """Save ``state`` (plain containers and tensors only) atomically, with a content checksum.

    Raises :class:`NonFiniteCheckpointError` (and writes nothing, keeping the previous
    file) when a tensor holds NaN/inf.
    """
    bad = non_finite_tensors(state)
    if bad:
        raise NonFiniteCheckpointError(
            f"refusing to write {path}: {_describe(bad)} hold NaN/inf; the previous file is kept", bad)
    state = {"format": FORMAT, "version": VERSION, **state}
    state[CHECKSUM_KEY] = {"algorithm": "sha256", "value": content_checksum(state)}
    atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: "str | Path", space: SearchSpace | None = None) -> dict[str, Any]:
    """Load with ``weights_only=True``; check format, content and (optionally) the space."""
    return read_checkpoint(path, space)[0]


def read_checkpoint(path: "str | Path", space: SearchSpace | None = None) -> tuple[dict[str, Any], str]:
    """:func:`load_checkpoint` and the file's content hash (:func:`file_hash`) from one read of the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found: train one with `oneshot-train` or pass checkpoint=<path>")
    blob = path.read_bytes()
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated/garbled files
        raise CheckpointError(
            f"checkpoint {path} is corrupted or not a torch file ({type(e).__name__}: {str(e)[:120]}); "
            "re-train or restore it"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a oneshot checkpoint (no '{FORMAT}' marker)")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state['version']}; this oneshot reads <= {VERSION}")
    verify_content(state, path)
    if space is not None:
        check_space(state, space, path)
    return state, hashlib.sha256(blob).hexdigest()[:32]


def verify_content(state: dict[str, Any], path: "str | Path") -> None:
    """Check the stored checksum (a warning when the file predates checksums) and that every tensor is finite."""
    stored = state.get(CHECKSUM_KEY)
    if stored is None:
        log.warning("checkpoint %s has no content checksum (written by an older oneshot); it cannot be "
                    "checked for corruption", path)
    elif not isinstance(stored, dict) or stored.get("value") != content_checksum(state):
        raise CheckpointError(f"checkpoint {path} is corrupted: its content does not match the checksum stored "
                              "at save; re-train or restore it from a copy")
    bad = non_finite_tensors(state)
    if bad:
        raise NonFiniteCheckpointError(
            f"checkpoint {path} has non-finite weights: {_describe(bad)} hold NaN/inf, so its accuracies would "
            "be meaningless; re-train it (lower train.lr, keep train.grad_clip on) or use an earlier checkpoint",
            bad)


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

"""Atomic file writes (temp file in the same folder + ``os.replace``): a crash mid-write
leaves the previous file intact. Every long job writes through here."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

# mkstemp creates 0600 files; results should get the usual permissions (0666 & ~umask)
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: "str | Path") -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: "str | Path", text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: "str | Path", obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_csv(path: "str | Path", frame: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def save_figure(path: "str | Path", fig: Any, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (format from ``path``'s suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)
    return Path(path)


def atomic_write_bytes(path: "str | Path", write: Any) -> None:
    """Call ``write(f)`` on a binary temp file, fsync it, and rename it over ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: "str | Path", text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))

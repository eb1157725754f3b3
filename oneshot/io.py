"""Atomic file writes (temp file in the same folder + ``os.replace``): a crash mid-write
leaves the previous file intact. Every long job writes through here.

A temp is named ``.<name>.<pid>@<host>.<random>.tmp``. A process killed mid-write
(kill -9, OOM) leaves its temp behind; the next write of the same target removes
the temps whose writer is gone: same host and a dead PID, or (other hosts, and temps
from before this naming) untouched for :data:`STALE_AFTER_S`.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

log = logging.getLogger(__name__)

#: a temp not modified for this long has no live writer (writes take seconds)
STALE_AFTER_S = 3600.0
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"

# mkstemp creates 0600 files; results should get the usual permissions (0666 & ~umask)
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: "str | Path") -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{_HOST}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def remove_stale_temps(path: "str | Path", stale_after: float = STALE_AFTER_S) -> list[Path]:
    """Delete the temps of ``path`` left by dead writers (see the module doc); returns them."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)@([A-Za-z0-9-]+)\.)?[A-Za-z0-9_]+\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > stale_after
        except OSError:  # gone already (its writer renamed it, or another cleaner)
            continue
        pid, host = match.groups()
        dead = pid is not None and host == _HOST and not _pid_alive(int(pid))
        if dead or old:
            try:
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(Path(entry.path))
    if removed:
        log.info("removed %d temp file(s) of %s left by interrupted writers", len(removed), path)
    return removed


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

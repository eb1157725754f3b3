"""SQLite cache of evaluation results, shared safely by parallel sweep jobs (WAL mode).

Jobs that need the same archs at the same time compute each once: a job claims the
archs it will compute (a ``claims`` row per key with an owner and a lease that a
heartbeat thread renews) and the others wait for its results. A killed job stops
renewing, so its claims expire after ``lease_s`` and a waiting job takes them over.
"""
from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Sequence

log = logging.getLogger(__name__)

Row = tuple[str, float, float, float]  # (arch, accuracy, loss, seconds)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    checkpoint TEXT NOT NULL,
    settings   TEXT NOT NULL,
    arch       TEXT NOT NULL,
    accuracy   REAL NOT NULL,
    loss       REAL,
    seconds    REAL,
    created    REAL NOT NULL,
    PRIMARY KEY (checkpoint, settings, arch)
)
"""
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    checkpoint TEXT NOT NULL,
    settings   TEXT NOT NULL,
    arch       TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires    REAL NOT NULL,
    PRIMARY KEY (checkpoint, settings, arch)
)
"""


class EvalCache:
    """(checkpoint hash, settings hash, canonical arch) -> accuracy, loss.

    One connection per process; WAL journal plus a generous busy timeout let several
    processes read and write one file concurrently. Writes are batched in one
    transaction per call.
    """

    def __init__(self, path: "str | Path", timeout: float = 60.0, lease_s: float = 60.0, poll_s: float = 0.5):
        self.path, self.timeout, self.lease_s, self.poll_s = Path(path), timeout, lease_s, poll_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        try:
            # Switching a fresh file to WAL takes an exclusive lock and SQLite does not run the
            # busy handler for it, so a second process opening the file at the same moment
            # gets 'database is locked' at once: retry like any other write.
            self._retry(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._retry(lambda: self._conn.execute(_SCHEMA))
            self._retry(lambda: self._conn.execute(_CLAIMS))
        except sqlite3.DatabaseError as e:
            raise sqlite3.DatabaseError(
                f"evaluator cache {self.path} is not a usable SQLite file ({e}); delete it or set "
                "evaluator.cache=<another path>"
            ) from e

    def _retry(self, fn, attempts: int = 20):
        for i in range(attempts):
            try:
                return fn()
            except sqlite3.OperationalError as e:  # 'database is locked' beyond the busy timeout
                if "locked" not in str(e) or i == attempts - 1:
                    raise
                time.sleep(0.05 * (i + 1))

    def get_many(self, checkpoint: str, settings: str, archs: Sequence[str]) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        unique = list(dict.fromkeys(archs))
        for s in range(0, len(unique), 500):
            chunk = unique[s:s + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._retry(lambda: self._conn.execute(
                f"SELECT arch, accuracy, loss FROM results WHERE checkpoint=? AND settings=? AND arch IN ({marks})",
                (checkpoint, settings, *chunk)).fetchall())
            out.update({a: (acc, loss) for a, acc, loss in rows})
        return out

    def put_many(self, checkpoint: str, settings: str, rows: Iterable[Row], release: str | None = None) -> None:
        """Insert ``(arch, accuracy, loss, seconds)`` rows in one transaction (and drop ``release``'s claims)."""
        now = time.time()
        data = [(checkpoint, settings, a, float(acc), float(loss), float(sec), now) for a, acc, loss, sec in rows]
        if not data and release is None:
            return

        def write() -> None:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?)", data)
                if release is not None:
                    self._conn.execute("DELETE FROM claims WHERE owner=?", (release,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

        self._retry(write)

    # ------------------------------------------------------------ claims
    def claim(self, checkpoint: str, settings: str, archs: Sequence[str], owner: str) -> list[str]:
        """Claim, for ``lease_s``, the archs that have no result and no live claim of another owner."""
        unique = list(dict.fromkeys(archs))

        def write() -> list[str]:
            now = time.time()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM claims WHERE expires < ?", (now,))
                taken: set[str] = set()
                for s in range(0, len(unique), 500):
                    chunk = unique[s:s + 500]
                    marks = ",".join("?" * len(chunk))
                    for table, extra in (("results", ""), ("claims", " AND owner != ?")):
                        rows = self._conn.execute(
                            f"SELECT arch FROM {table} WHERE checkpoint=? AND settings=? AND arch IN ({marks}){extra}",
                            (checkpoint, settings, *chunk, *([owner] if extra else []))).fetchall()
                        taken.update(a for (a,) in rows)
                mine = [a for a in unique if a not in taken]
                self._conn.executemany("INSERT OR REPLACE INTO claims VALUES (?,?,?,?,?)",
                                       [(checkpoint, settings, a, owner, now + self.lease_s) for a in mine])
                self._conn.execute("COMMIT")
                return mine
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

        return self._retry(write)

    def release(self, owner: str) -> None:
        self._retry(lambda: self._conn.execute("DELETE FROM claims WHERE owner=?", (owner,)))

    def compute_once(self, checkpoint: str, settings: str, archs: Sequence[str],
                     compute: Callable[[list[str]], list[Row]]) -> tuple[dict[str, tuple[float, float]], list[Row]]:
        """Results of ``archs`` (none cached yet): computes the ones no other job is computing, waits
        for the rest. Returns ``(results another job computed, rows computed here)``."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        pending, waited, computed = list(dict.fromkeys(archs)), {}, []
        told = False
        with _Heartbeat(self, owner):
            try:
                while pending:
                    found = self.get_many(checkpoint, settings, pending)
                    waited.update(found)
                    pending = [a for a in pending if a not in found]
                    mine = self.claim(checkpoint, settings, pending, owner) if pending else []
                    if mine:
                        rows = compute(mine)
                        self.put_many(checkpoint, settings, rows, release=owner)
                        computed += rows
                        done = set(mine)
                        pending = [a for a in pending if a not in done]
                    elif pending:
                        if not told:
                            log.info("waiting for %d arch(s) another job is evaluating (%s)", len(pending), self.path)
                            told = True
                        time.sleep(self.poll_s)
            finally:
                self.release(owner)
        return waited, computed

    def count(self, checkpoint: str | None = None) -> int:
        if checkpoint is None:
            return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM results WHERE checkpoint=?", (checkpoint,)).fetchone()[0]

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        self._conn.close()


class _Heartbeat:
    """Renews ``owner``'s claims every ``lease_s / 3`` from a thread with its own connection."""

    def __init__(self, cache: EvalCache, owner: str):
        self.cache, self.owner = cache, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eval-cache-lease", daemon=True)

    def _run(self) -> None:
        conn = sqlite3.connect(str(self.cache.path), timeout=self.cache.timeout, isolation_level=None)
        try:
            while not self._stop.wait(self.cache.lease_s / 3):
                try:
                    conn.execute("UPDATE claims SET expires=? WHERE owner=?",
                                 (time.time() + self.cache.lease_s, self.owner))
                except sqlite3.OperationalError as e:  # busy beyond the timeout: try again next beat
                    log.debug("lease renewal of %s failed: %s", self.owner, e)
        finally:
            conn.close()

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

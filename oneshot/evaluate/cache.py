"""SQLite cache of evaluation results, shared safely by parallel sweep jobs (WAL mode)."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Iterable, Sequence

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


class EvalCache:
    """(checkpoint hash, settings hash, canonical arch) -> accuracy, loss.

    One connection per process; WAL journal plus a generous busy timeout let several
    processes read and write one file concurrently. Writes are batched in one
    transaction per call.
    """

    def __init__(self, path: "str | Path", timeout: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        try:
            # Switching a fresh file to WAL takes an exclusive lock and SQLite does not run the
            # busy handler for it, so a second process opening the file at the same moment
            # gets 'database is locked' at once: retry like any other write.
            self._retry(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._retry(lambda: self._conn.execute(_SCHEMA))
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

    def put_many(self, checkpoint: str, settings: str,
                 rows: Iterable[tuple[str, float, float, float]]) -> None:
        """Insert ``(arch, accuracy, loss, seconds)`` rows in one transaction."""
        now = time.time()
        data = [(checkpoint, settings, a, float(acc), float(loss), float(sec), now) for a, acc, loss, sec in rows]
        if not data:
            return

        def write() -> None:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?)", data)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

        self._retry(write)

    def count(self, checkpoint: str | None = None) -> int:
        if checkpoint is None:
            return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM results WHERE checkpoint=?", (checkpoint,)).fetchone()[0]

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        self._conn.close()

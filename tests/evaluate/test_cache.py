import multiprocessing as mp
import sqlite3

import pytest

from oneshot.evaluate import EvalCache


def _writer(path: str, worker: int, rounds: int) -> None:
    cache = EvalCache(path)
    for r in range(rounds):
        rows = [(f"{worker}-{r}-{i}", float(i), 0.5, 0.01) for i in range(20)]
        cache.put_many("ckpt", "settings", rows)
        # read back through the same shared file while the other process writes
        got = cache.get_many("ckpt", "settings", [row[0] for row in rows])
        assert len(got) == 20
    cache.close()


def _open_together(path: str, barrier, worker: int) -> None:
    barrier.wait()
    cache = EvalCache(path)
    cache.put_many("ckpt", "settings", [(f"w{worker}", 1.0, 0.1, 0.1)])
    cache.close()


def test_processes_opening_a_fresh_cache_at_once_all_succeed(tmp_path):
    # Regression: switching a new file to WAL raised 'database is locked' in the loser of the race.
    ctx = mp.get_context("spawn")
    for trial in range(3):
        path = str(tmp_path / f"fresh{trial}.sqlite")
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_open_together, args=(path, barrier, w)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        assert EvalCache(path).count("ckpt") == 4


def test_two_processes_writing_one_cache_do_not_corrupt_it(tmp_path):
    path = str(tmp_path / "cache.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 25)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = EvalCache(path)
    assert cache.integrity_ok()
    assert cache.count("ckpt") == 2 * 25 * 20


def test_get_many_returns_only_known_keys(tmp_path):
    cache = EvalCache(tmp_path / "c.sqlite")
    cache.put_many("a", "s", [("111", 90.0, 0.3, 1.0)])
    assert cache.get_many("a", "s", ["111", "222"]) == {"111": (90.0, 0.3)}
    assert cache.get_many("b", "s", ["111"]) == {}
    assert cache.get_many("a", "other", ["111"]) == {}


def test_garbage_file_gives_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(sqlite3.DatabaseError, match="not a usable SQLite file"):
        EvalCache(path)

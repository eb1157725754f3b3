import multiprocessing as mp
import sqlite3
import time

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


def test_claims_skip_results_and_live_claims_of_others_and_expire(tmp_path):
    cache = EvalCache(tmp_path / "c.sqlite", lease_s=0.5)
    cache.put_many("a", "s", [("done", 1.0, 0.1, 0.1)])
    assert cache.claim("a", "s", ["done", "x", "y"], "job1") == ["x", "y"]
    assert cache.claim("a", "s", ["x", "y", "z"], "job2") == ["z"]
    assert cache.claim("a", "s", ["x"], "job1") == ["x"]  # an owner may re-claim its own
    assert cache.claim("b", "s", ["x"], "job2") == ["x"]  # other checkpoint: another key
    time.sleep(0.6)  # job1 stopped renewing (killed): its lease ran out
    assert cache.claim("a", "s", ["x", "y"], "job2") == ["x", "y"]
    cache.put_many("a", "s", [("x", 2.0, 0.2, 0.1)], release="job2")
    assert cache.claim("a", "s", ["x", "y", "z"], "job3") == ["y", "z"]


_JOB = """
import json, sys, time
import torch
from oneshot.data import load_synthetic
from oneshot.evaluate import EvalCache, EvalSettings, SupernetEvaluator
from oneshot.space import SearchSpace
from oneshot.supernet import SuperNet

from pathlib import Path

cache_path, sleep_s, lease_s, space_cfg = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
gate, started = Path(sys.argv[5]), Path(sys.argv[6])

class Slow(SupernetEvaluator):
    def _compute(self, archs):
        deadline = time.time() + 300
        while not gate.exists() and time.time() < deadline:  # a long evaluation: the other job arrives meanwhile
            time.sleep(0.05)
        time.sleep(sleep_s)
        return super()._compute(archs)

torch.manual_seed(0)
space = SearchSpace(space_cfg)
data = load_synthetic(size=16, num_classes=4, train_images=128, val_images=64, test_images=32)
ev = Slow(SuperNet(space), space, data, EvalSettings(recal_images=32, val_images=32, batch_size=32,
          recal_batch_size=32), checkpoint_id="ck", cache=EvalCache(cache_path, lease_s=lease_s, poll_s=0.1),
          device="cpu", progress=False)
archs = [space.parse(a) for a in ("22222", "12121", "21212", "11111")]
started.touch()
frame = ev.evaluate(archs)
print(json.dumps({"computed": ev.stats["computed"], "hits": ev.stats["cache_hits"],
                  "accuracy": list(map(float, frame.accuracy))}))
"""


def _start_job(space, cache, sleep_s, lease_s, gate, started):
    import json
    import os
    import subprocess
    import sys

    from oneshot.paths import REPO_DIR

    return subprocess.Popen([sys.executable, "-c", _JOB, str(cache), str(sleep_s), str(lease_s),
                             json.dumps(space.to_config()), str(gate), str(started)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_DIR)})


def _wait_for_claims(cache_path, proc, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        try:
            conn = sqlite3.connect(str(cache_path), timeout=30)
            n = conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
            conn.close()
            if n:
                return n
        except sqlite3.OperationalError:  # table not created yet
            pass
        time.sleep(0.05)
    raise AssertionError("the first job never claimed its archs")


def _result(proc, timeout=300):
    import json

    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_second_identical_job_waits_for_the_first_instead_of_recomputing(tiny_space, tmp_path):
    # issue 14: 4 identical sweep jobs each recomputed the same archs
    cache, second_started = tmp_path / "c.sqlite", tmp_path / "second_started"
    # the first job's evaluation lasts until the second job is about to evaluate, plus 2 s
    first = _start_job(tiny_space, cache, 2.0, 30.0, gate=second_started, started=tmp_path / "first_started")
    assert _wait_for_claims(cache, first) == 4
    second = _start_job(tiny_space, cache, 0.0, 30.0, gate=tmp_path, started=second_started)
    a, b = _result(first), _result(second)
    assert a["computed"] == 4 and b["computed"] == 0 and b["hits"] == 4
    assert a["accuracy"] == b["accuracy"]


def test_claims_of_a_killed_job_expire_and_the_waiting_job_computes(tiny_space, tmp_path):
    cache, never = tmp_path / "c.sqlite", tmp_path / "never"
    first = _start_job(tiny_space, cache, 0.0, 2.0, gate=never, started=tmp_path / "first_started")
    _wait_for_claims(cache, first)
    second = _start_job(tiny_space, cache, 0.0, 2.0, gate=tmp_path, started=tmp_path / "second_started")
    while not (tmp_path / "second_started").exists():
        assert second.poll() is None, second.stderr.read()[-2000:]
        time.sleep(0.05)
    first.kill()  # kill -9 while it holds the claims: nothing releases them
    first.wait()
    b = _result(second)
    assert b["computed"] == 4

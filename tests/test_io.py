import os
import signal
import subprocess
import sys
import time

from oneshot.io import STALE_AFTER_S, _HOST, atomic_write_bytes, atomic_write_text, remove_stale_temps


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _touch(path, age_s: float = 0.0):
    path.write_bytes(b"partial")
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return path


def test_killed_writer_leaves_a_temp_that_the_next_write_removes(tmp_path):
    # issue 14: kill -9 mid-write left .<name>.pt.<random>.tmp files that nothing removed
    target = tmp_path / "ck.pt"
    atomic_write_text(target, "old")
    code = ("import sys, time; from oneshot.io import atomic_write_bytes\n"
            "def slow(f):\n    f.write(b'x' * 4096); f.flush(); print('writing', flush=True); time.sleep(60)\n"
            f"atomic_write_bytes({str(target)!r}, slow)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    left = [p.name for p in tmp_path.iterdir() if p.name != "ck.pt"]
    assert len(left) == 1 and left[0].startswith(".ck.pt.") and left[0].endswith(".tmp")
    assert target.read_text() == "old"
    atomic_write_text(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    assert target.read_text() == "new"


def test_only_temps_of_dead_or_long_idle_writers_of_the_same_target_are_removed(tmp_path):
    target = tmp_path / "a.csv"
    dead = _touch(tmp_path / f".a.csv.{_dead_pid()}@{_HOST}.abc123.tmp")
    live = _touch(tmp_path / f".a.csv.{os.getpid()}@{_HOST}.def456.tmp")
    live_but_idle = _touch(tmp_path / f".a.csv.{os.getpid()}@{_HOST}.ghi789.tmp", STALE_AFTER_S + 60)
    other_host_fresh = _touch(tmp_path / f".a.csv.{_dead_pid()}@elsewhere.jkl012.tmp")
    other_host_idle = _touch(tmp_path / ".a.csv.1@elsewhere.mno345.tmp", STALE_AFTER_S + 60)
    legacy_fresh = _touch(tmp_path / ".a.csv.pqr678_x.tmp")
    legacy_idle = _touch(tmp_path / ".a.csv.stu901_y.tmp", STALE_AFTER_S + 60)
    other_target = _touch(tmp_path / f".a.csv.b.{_dead_pid()}@{_HOST}.vwx234.tmp", STALE_AFTER_S + 60)
    not_a_temp = _touch(tmp_path / ".a.csv.notes", STALE_AFTER_S + 60)
    removed = remove_stale_temps(target)
    assert sorted(removed) == sorted([dead, live_but_idle, other_host_idle, legacy_idle])
    for kept in (live, other_host_fresh, legacy_fresh, other_target, not_a_temp):
        assert kept.exists(), kept.name


def test_temp_names_carry_the_writer_pid_and_host(tmp_path):
    seen = []

    def record(f):
        seen.extend(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
        f.write(b"x")

    atomic_write_bytes(tmp_path / "f.bin", record)
    assert len(seen) == 1 and seen[0].startswith(f".f.bin.{os.getpid()}@{_HOST}.")
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]

from __future__ import annotations

import pytest


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def cli_elsewhere(tmp_path):
    """Run ``python -m oneshot.cli.<app> <overrides>`` from an empty working folder, with the
    package's install root (``REPO_DIR``) pointed at a stand-in that already holds the default
    output files, and return ``(result, cwd, files written into the install)``."""
    import os
    import subprocess
    import sys

    from oneshot.evaluate import EvalCache
    from oneshot.paths import REPO_DIR, conf_dir, shared_data_dir

    install, cwd = tmp_path / "install", tmp_path / "cwd"
    (install / "luts").mkdir(parents=True)
    cwd.mkdir()
    EvalCache(install / "checkpoints" / "eval_cache.sqlite").close()

    def run(app: str, *overrides: str, luts: tuple[str, ...] = ()):
        for name in luts:  # an existing table in the install is what the old fallback picked up
            (install / "luts" / name).write_text("# format: oneshot-latency-lut-v1\nkey,median_ms,p25,p75,n\n")
        before = _tree(install)
        script = ("import sys; from pathlib import Path; import oneshot.paths as p, oneshot.build as b; "
                  "p.REPO_DIR = b.REPO_DIR = Path(sys.argv.pop(1)); "
                  f"from oneshot.cli.{app} import main; main()")
        env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "ONESHOT_CONF_DIR": str(conf_dir()),
               "ONESHOT_SHARED_DATA": str(shared_data_dir())}
        out = subprocess.run([sys.executable, "-c", script, str(install), *overrides], cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=600)
        after = _tree(install)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return out, cwd, changed

    return run

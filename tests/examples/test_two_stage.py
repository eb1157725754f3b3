"""examples/two_stage.py -- the README's Python API example -- runs as written, with small sizes."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from oneshot.paths import REPO_DIR


@pytest.mark.slow
def test_two_stage_example_trains_searches_and_prints_a_feasible_best_arch():
    run = subprocess.run([sys.executable, str(REPO_DIR / "examples" / "two_stage.py"), "--epochs", "0.1",
                          "--generations", "1", "--pop-size", "4"],
                         capture_output=True, text=True, timeout=600, cwd=REPO_DIR)
    assert run.returncode == 0, run.stderr[-2000:]
    m = re.search(r"best arch (\d{8}): ([\d.]+)% val accuracy, ([\d.]+) MFLOPs \(cap ([\d.]+)\)", run.stdout)
    assert m, run.stdout
    assert float(m[3]) <= float(m[4])


def test_public_api_is_lazy_and_complete():
    code = ("import sys, oneshot; assert 'torch' not in sys.modules, 'import oneshot pulled in torch'; "
            "assert oneshot.__version__; [getattr(oneshot, n) for n in oneshot.__all__]; "
            "from oneshot import SearchSpace, Trainer, PrefixSharingEvaluator, run_search, Sampler")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO_DIR)
    assert run.returncode == 0, run.stderr[-2000:]
    import oneshot

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        oneshot.nope

import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "HYDRA_FULL_ERROR": "0"}
APPS = {"train": "sampler:", "search": "constraint:", "pipeline": "sampler:", "lut": "device:",
        "rank": "evaluator:", "retrain": "train:"}


def _run(app, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", f"oneshot.cli.{app}", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=300)


@pytest.mark.parametrize("app", ["search", "lut"])
def test_help_shows_the_apps_purpose_examples_and_only_its_groups(app):
    import importlib

    out = _run(app, "--help")
    assert out.returncode == 0, out.stderr
    doc = importlib.import_module(f"oneshot.cli.{app}").__doc__.strip()
    assert out.stdout.startswith(doc)
    assert "base_" not in out.stdout and "powered by Hydra" not in out.stdout
    assert APPS[app] in out.stdout and "--config-dir" in out.stdout  # its groups, Hydra's flags
    if app == "lut":  # a latency table needs no sampler, training or search settings
        assert "sampler:" not in out.stdout and "train:" not in out.stdout and "search:" not in out.stdout
    assert "nas_bench_macro*" in out.stdout  # the default option is marked


def test_a_config_file_given_to_a_group_gets_a_one_line_hint(tmp_path):
    out = _run("train", f"space={tmp_path}/space/mine.yaml")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (f"error: space={tmp_path}/space/mine.yaml: a config group takes the name of an "
                                  f"option, not a file; run with --config-dir {tmp_path} space=mine "
                                  "(README: \"Your own space or device profile\")")


def test_own_space_via_config_dir(tmp_path):
    # the documented way (README, "Your own space or device profile")
    (tmp_path / "my_conf" / "space").mkdir(parents=True)
    (tmp_path / "my_conf" / "space" / "my_space.yaml").write_text(
        "defaults: [base_space, _self_]\nname: my_space\ninput_size: 16\nstem_channels: 8\nhead_channels: 32\n"
        "stages:\n  - {layers: 2, channels: 16, stride: 2}\n")
    out = _run("train", "--config-dir", "my_conf", "space=my_space", "--cfg", "job", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "name: my_space" in out.stdout
    assert "my_space" in _run("train", "--config-dir", "my_conf", "--help", cwd=tmp_path).stdout

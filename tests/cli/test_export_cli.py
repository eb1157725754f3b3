import json
import os
import subprocess
import sys

import pytest
import torch

from oneshot.search import export_subnet
from oneshot.search.deploy import load_exported_subnet
from oneshot.space import load_space
from oneshot.workflows.export import run_export
from oneshot.workflows.train import train_supernet

ENV = {**os.environ, "HYDRA_FULL_ERROR": "0"}
SMALL = ["data=synthetic", "export.recal_images=32", "export.check_images=16", "runtime.progress=false"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from oneshot.paths import conf_dir

    tmp = tmp_path_factory.mktemp("export_cli")
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "data=synthetic", "train=tiny", "train.max_steps=2", "train.reference_subnets=false",
            f"checkpoint={tmp}/s.pt", "runtime.progress=false", "runtime.device=cpu"])
    return train_supernet(cfg, tmp)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "oneshot.cli.export", *args], capture_output=True, text=True,
                          env=ENV, timeout=300)


def test_export_from_a_search_best_subnet_json(make_cfg, checkpoint, tmp_path):
    space = load_space("nas_bench_macro")
    best = export_subnet(space, "01212021", tmp_path / "best_subnet.json", accuracy=42.5, latency=1.25)
    cfg = make_cfg("export", f"checkpoint={checkpoint}", f"export.subnet={best}", "export.formats=[state_dict,pt2]",
                   *SMALL)
    report = run_export(cfg, tmp_path / "out")
    assert report["arch"] == "01212021" and report["within_tolerance"]
    assert sorted(report["files"]) == ["pt2", "state_dict", "subnet_json"]
    config = json.loads((tmp_path / "out" / "subnet.json").read_text())
    assert config["accuracy"] == 42.5 and config["latency"] == 1.25  # the search's numbers travel along
    net = load_exported_subnet(tmp_path / "out" / "subnet.pt", tmp_path / "out" / "subnet.json")
    program = torch.export.load(tmp_path / "out" / "subnet.pt2")
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), net(x), rtol=1e-5, atol=1e-5)
    assert not (tmp_path / "out" / "subnet.onnx").exists()


@pytest.mark.parametrize("args, message", [
    (["checkpoint={tmp}/nope.pt", "arch=01212021"], "error: checkpoint {tmp}/nope.pt not found"),
    (["checkpoint={ckpt}", "arch=0121"], "error: arch '0121' has 4 layers, space 'nas_bench_macro' has 8"),
    (["checkpoint={ckpt}"], "error: oneshot-export needs arch=<arch string> or export.subnet=<best_subnet.json>"),
    (["checkpoint={ckpt}", "export.subnet={tmp}/best.json"], "error: export.subnet={tmp}/best.json: no such file"),
    (["checkpoint={ckpt}", "arch=01212021", "export.formats=[tflite]"], "error: unknown export format(s) ['tflite']"),
])
def test_bad_input_is_one_line_and_exit_code_2(checkpoint, tmp_path, args, message):
    out = _run(*[a.format(tmp=tmp_path, ckpt=checkpoint) for a in args], f"out_dir={tmp_path}/out", *SMALL)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(message.format(tmp=tmp_path))


def test_without_onnxruntime_the_onnx_step_fails_with_the_install_line(checkpoint, tmp_path):
    hide = ("import sys; sys.modules['onnxruntime'] = None; sys.argv[0] = 'oneshot-export'; "
            "from oneshot.cli.export import main; main()")
    out = subprocess.run([sys.executable, "-c", hide, f"checkpoint={checkpoint}", "arch=01212021",
                          f"out_dir={tmp_path}", *SMALL], capture_output=True, text=True, env=ENV, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        'error: ONNX export needs onnxruntime: pip install -e ".[export]" (or leave onnx out of export.formats)')
    assert not (tmp_path / "subnet.json").exists()  # nothing half-done

import json

import pytest
import torch

from oneshot.data import load_synthetic
from oneshot.evaluate.supernet_evaluator import load_supernet
from oneshot.sampling import UniformSampler
from oneshot.search.deploy import (ExportSettings, check_formats, export_model, load_exported_subnet,
                                   recalibrated_subnet)
from oneshot.space import SearchSpace
from oneshot.supernet import SubNet, SuperNet
from oneshot.train import Trainer, TrainSettings, recalibrate_bn
from tests.conftest import TINY_SPACE

ARCH = "12021"
SETTINGS = ExportSettings(recal_images=64, recal_batch_size=32, check_images=48)


@pytest.fixture(scope="module")
def data():
    return load_synthetic(size=16, num_classes=4, train_images=128, val_images=64, test_images=32)


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory):
    """A trained tiny supernet, exported once in every format the environment supports."""
    tmp = tmp_path_factory.mktemp("deploy")
    space = SearchSpace(TINY_SPACE)
    torch.manual_seed(0)
    Trainer(SuperNet(space), UniformSampler(space, seed=0), data, TrainSettings(epochs=1, batch_size=32),
            checkpoint_path=tmp / "s.pt", device="cpu", progress=False,
            extra_state={"space": space.to_config(), "supernet": {"sharing": "separate"}}).fit()
    formats = ("state_dict", "pt2", "onnx")
    try:
        check_formats(formats)
    except RuntimeError:
        formats = ("state_dict", "pt2")
    report = export_model(tmp / "s.pt", ARCH, data, tmp / "out", ExportSettings(**{**SETTINGS.__dict__,
                                                                                      "formats": formats}))
    return tmp, report


def _images(data, n=7):
    return data.normalise(data.val.x[:n])


def test_state_dict_reloads_into_a_stand_alone_subnet_with_identical_outputs(exported, data):
    tmp, report = exported
    net = load_exported_subnet(tmp / "out" / "subnet.pt", tmp / "out" / "subnet.json")
    assert isinstance(net, SubNet) and str(net.arch) == ARCH
    again, _ = recalibrated_subnet(tmp / "s.pt", ARCH, data, SETTINGS)
    # and the same function as the supernet's path after recalibrating BN on the same images
    supernet, space, _ = load_supernet(tmp / "s.pt")
    recal = data.normalise(data.fixed_train_subset(64, 0).x)
    recalibrate_bn(supernet, [recal[:32], recal[32:]], space.parse(ARCH))
    x = _images(data)
    with torch.no_grad():
        out = net(x)
        torch.testing.assert_close(out, again(x), rtol=0, atol=0)
        torch.testing.assert_close(out, supernet(x, space.parse(ARCH)), rtol=1e-5, atol=1e-5)
    config = json.loads((tmp / "out" / "subnet.json").read_text())
    assert config["arch"] == ARCH and config["recal_images"] == 64 and config["checkpoint"] == str(tmp / "s.pt")


def test_pt2_loads_with_torch_export_load_and_matches_at_another_batch_size(exported, data):
    tmp, report = exported
    program = torch.export.load(tmp / "out" / "subnet.pt2")
    net = load_exported_subnet(tmp / "out" / "subnet.pt", tmp / "out" / "subnet.json")
    x = _images(data, 5)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), net(x), rtol=1e-5, atol=1e-5)
    assert report["max_abs_diff"]["pt2"] <= 1e-5


def test_onnx_matches_pytorch_within_1e_4_in_onnxruntime(exported, data):
    tmp, report = exported
    if "onnx" not in report["files"]:
        pytest.skip("onnx, onnxscript or onnxruntime is not installed (the export extra: pip install -e '.[export]')")
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp / "out" / "subnet.onnx"), providers=["CPUExecutionProvider"])
    net = load_exported_subnet(tmp / "out" / "subnet.pt", tmp / "out" / "subnet.json")
    x = _images(data, 9)
    onnx_out = torch.from_numpy(session.run(None, {"images": x.numpy()})[0])
    with torch.no_grad():
        assert float((onnx_out - net(x)).abs().max()) <= 1e-4
    on_disk = json.loads((tmp / "out" / "export_report.json").read_text())
    assert on_disk["max_abs_diff"]["onnx"] == report["max_abs_diff"]["onnx"] <= 1e-4
    assert on_disk["within_tolerance"] and on_disk["check_images"] == 48
    assert on_disk["onnx_exporter"] == "torch.onnx.export(dynamo=True)"


def test_unknown_format_and_missing_onnx_packages_are_one_clear_error(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown export format\(s\) \['tflite'\]"):
        check_formats(["pt2", "tflite"])
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name))
    with pytest.raises(RuntimeError, match=r'ONNX export needs onnxruntime: pip install -e "\.\[export\]"'):
        check_formats(["onnx"])
    assert check_formats(["state_dict", "pt2"]) == ("state_dict", "pt2")

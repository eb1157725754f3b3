"""Deployable files of a chosen subnet: inherited, BN-recalibrated weights as a ``state_dict``
+ subnet json, a ``torch.export`` program (.pt2) and ONNX, each checked against PyTorch.

ONNX goes through ``torch.onnx.export(..., dynamo=True)`` (the torch.export-based exporter,
the default of current torch; the TorchScript one is deprecated) and is checked with
onnxruntime. onnx, onnxscript and onnxruntime are the optional ``export`` extra.
"""
from __future__ import annotations

import importlib.util
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from ..errors import UnsatisfiableError, UserInputError
from ..data.tensors import ImageData
from ..evaluate.supernet_evaluator import load_supernet
from ..io import atomic_path, atomic_write_bytes, write_json
from ..space.space import SearchSpace
from ..supernet import SubNet
from ..train.bn import recalibrate_bn
from .export import export_subnet, load_subnet

log = logging.getLogger(__name__)

FORMATS = ("state_dict", "pt2", "onnx")
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


@dataclass(frozen=True)
class ExportSettings:
    formats: tuple[str, ...] = FORMATS
    recal_images: int = 500  # BN recalibration on a seeded fixed subset of training images
    recal_batch_size: int = 100
    check_images: int = 256  # validation images each exported file is compared on
    seed: int = 0
    opset: int | None = None  # ONNX opset; None = the exporter's default
    tolerance: float = 1e-4  # max abs logit difference accepted for .pt2 / ONNX


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` validated; for ``onnx``, a clear error if the optional packages are missing."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"unknown export format(s) {unknown}: choose from {list(FORMATS)}")
    if "onnx" in formats:
        missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise UnsatisfiableError(f"ONNX export needs {', '.join(missing)}: pip install -e \".[export]\" "
                                      "(or leave onnx out of export.formats)")
    return tuple(formats)


def recalibrated_subnet(checkpoint: "str | Path", arch: "str | Sequence[int]", data: ImageData,
                        settings: ExportSettings = ExportSettings()) -> tuple[SubNet, SearchSpace]:
    """The checkpoint's supernet path ``arch`` as a stand-alone subnet, BN recalibrated, in eval mode."""
    supernet, space, _ = load_supernet(checkpoint)
    subnet = supernet.extract(space.parse(arch))
    images = data.fixed_train_subset(settings.recal_images, settings.seed).x
    batches = (data.normalise(images[s:s + settings.recal_batch_size])
               for s in range(0, len(images), settings.recal_batch_size))
    recalibrate_bn(subnet, batches)
    return subnet.eval(), space


def load_exported_subnet(weights: "str | Path", subnet_json: "str | Path") -> SubNet:
    """Rebuild an exported subnet from its ``state_dict`` file and subnet json (no supernet needed)."""
    import json

    try:
        space_config = json.loads(Path(subnet_json).read_text()).get("space_config")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
        raise UserInputError(f"{subnet_json} is not a subnet config written by oneshot-export ({e})") from None
    if not isinstance(space_config, dict):
        raise UserInputError(f"{subnet_json}: no 'space_config' (not written by oneshot-export)")
    space = SearchSpace(space_config)
    arch, _ = load_subnet(subnet_json, space)  # checks the fingerprint, the arch and the ops against it
    net = SubNet.build(space, arch)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net.eval()


def _max_abs_diff(a: torch.Tensor, b: Any) -> float:
    return float((a - torch.as_tensor(b)).abs().max())


def _export_pt2(subnet: SubNet, x: torch.Tensor, path: Path) -> torch.Tensor:
    program = torch.export.export(subnet, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    atomic_write_bytes(path, lambda f: torch.export.save(program, f))
    with torch.no_grad():
        return torch.export.load(path).module()(x)


def _export_onnx(subnet: SubNet, x: torch.Tensor, path: Path, opset: int | None) -> torch.Tensor:
    import onnx
    import onnxruntime

    with atomic_path(path) as tmp:
        torch.onnx.export(subnet, (x[:2],), str(tmp), dynamo=True, verbose=False, input_names=["images"],
                          output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch")},),
                          opset_version=opset, external_data=False)
        onnx.checker.check_model(str(tmp))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(["logits"], {"images": x.numpy()})[0])


def export_model(checkpoint: "str | Path", arch: "str | Sequence[int]", data: ImageData, out_dir: "str | Path",
                 settings: ExportSettings = ExportSettings(), **metrics: Any) -> dict[str, Any]:
    """Write ``subnet.json`` and the requested formats into ``out_dir``; compare every exported model
    with the PyTorch subnet on ``check_images`` validation images and write ``export_report.json``.

    ``metrics`` (e.g. the search's accuracy / latency) are stored in ``subnet.json``. Returns the report.
    """
    formats = check_formats(settings.formats)
    out_dir = Path(out_dir)
    subnet, space = recalibrated_subnet(checkpoint, arch, data, settings)
    arch = space.parse(arch)
    count = min(settings.check_images, len(data.val))
    x, y = data.normalise(data.val.x[:count].cpu()), data.val.y[:count].cpu()
    with torch.no_grad():
        reference = subnet(x)
    files = {"subnet_json": str(export_subnet(space, arch, out_dir / "subnet.json", space_config=space.to_config(),
                                              checkpoint=str(checkpoint), recal_images=settings.recal_images,
                                              **metrics))}
    report: dict[str, Any] = {
        "arch": str(arch), "space": space.name, "checkpoint": str(checkpoint), "files": files,
        "check_images": count, "check_split": "val",
        "check_accuracy": 100.0 * float((reference.argmax(1) == y).float().mean()) if count else None,
        "settings": {**asdict(settings), "formats": list(formats)}, "versions": {"torch": torch.__version__},
        "max_abs_diff": {},
    }
    if "state_dict" in formats:
        path = out_dir / "subnet.pt"
        atomic_write_bytes(path, lambda f: torch.save(subnet.state_dict(), f))
        files["state_dict"] = str(path)
    if "pt2" in formats:
        path = out_dir / "subnet.pt2"
        report["max_abs_diff"]["pt2"] = _max_abs_diff(_export_pt2(subnet, x, path), reference)
        files["pt2"] = str(path)
    if "onnx" in formats:
        import onnxruntime

        path = out_dir / "subnet.onnx"
        report["max_abs_diff"]["onnx"] = _max_abs_diff(_export_onnx(subnet, x, path, settings.opset), reference)
        report["onnx_exporter"] = "torch.onnx.export(dynamo=True)"
        report["versions"]["onnxruntime"] = onnxruntime.__version__
        files["onnx"] = str(path)
    for kind, diff in report["max_abs_diff"].items():
        level = logging.INFO if diff <= settings.tolerance else logging.WARNING
        log.log(level, "%s output vs PyTorch on %d val images: max abs difference %.3g (tolerance %.0e)",
                kind, count, diff, settings.tolerance)
    report["within_tolerance"] = all(d <= settings.tolerance for d in report["max_abs_diff"].values())
    write_json(out_dir / "export_report.json", report)
    return report

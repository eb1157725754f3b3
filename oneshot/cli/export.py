"""`oneshot-export`: a chosen subnet with inherited, BN-recalibrated weights as deployable files.

Examples:
  oneshot-export checkpoint=checkpoints/supernet.pt arch=22212220
  oneshot-export checkpoint=checkpoints/supernet.pt export.subnet=outputs/search/<run>/best_subnet.json
  oneshot-export arch=22212220 export.formats=[state_dict,pt2]   # without the optional ONNX packages

Writes subnet.json, subnet.pt (state_dict), subnet.pt2 (torch.export), subnet.onnx and
export_report.json (max abs difference of each file's outputs vs PyTorch on validation images).
"""
import logging

from ..workflows.export import run_export
from .app import hydra_app

_main = hydra_app("export", run_export)


def main() -> None:
    for name in ("onnxscript", "onnx_ir"):  # the ONNX exporter's pass-by-pass INFO lines
        logging.getLogger(name).setLevel(logging.WARNING)
    _main()


if __name__ == "__main__":
    main()

"""`oneshot-retrain arch=22212220`: train one arch stand-alone from scratch, or
fine-tune weights inherited from a supernet (`checkpoint=<supernet.pt> retrain.inherit=true`)."""
from pathlib import Path

from ..build import checkpoint_path
from ..workflows.train import train_standalone
from .app import hydra_app


def _retrain(cfg, out_dir: Path):
    if not cfg.arch:
        raise ValueError("retrain needs arch=<arch string>, e.g. oneshot-retrain arch=22212220")
    inherit = checkpoint_path(cfg) if cfg.retrain.inherit else None
    return train_standalone(cfg, out_dir, str(cfg.arch), inherit=inherit)


main = hydra_app("retrain", _retrain, __doc__,
                 groups=("space", "supernet", "data", "train", "runtime"),
                 keys=("name", "arch", "checkpoint", "retrain", "out_dir"))

if __name__ == "__main__":
    main()

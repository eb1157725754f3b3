"""`oneshot-train`: stage one, train one weight-sharing supernet (checkpoints/<name>.pt, resumable).

Examples:
  oneshot-train                                          # SPOS uniform sampling on digits
  oneshot-train sampler=fair name=fair train.epochs=5    # FairNAS strict fairness
  oneshot-train space=ofa_like_cifar supernet=elastic sampler=progressive name=ofa   # Once-for-All
"""
from ..workflows.train import train_supernet
from .app import hydra_app

main = hydra_app("train", train_supernet, __doc__,
                 groups=("space", "supernet", "data", "sampler", "train", "runtime"),
                 keys=("name", "checkpoint", "out_dir"))

if __name__ == "__main__":
    main()

"""`oneshot-rank checkpoint=<supernet.pt>`: Kendall tau of the supernet's ranking against a ground truth.

Examples:
  oneshot-rank checkpoint=checkpoints/cifar.pt data=cifar10_npz                 # vs NAS-Bench-Macro
  oneshot-rank rank.ground_truth=standalone rank.sample_size=20 train.epochs=3  # vs stand-alone training
  oneshot-rank rank.ground_truth=csv rank.ground_truth_path=mine.csv rank.sample=ground_truth
"""
from ..workflows.rank import rank
from .app import hydra_app

main = hydra_app("rank", rank, __doc__,
                 groups=("space", "supernet", "data", "train", "evaluator", "runtime"),
                 keys=("name", "checkpoint", "rank", "out_dir"))

if __name__ == "__main__":
    main()

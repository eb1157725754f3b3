"""`oneshot-pipeline`: both stages in one run: train a supernet, then search it under a constraint.

Examples:
  oneshot-pipeline                                        # the quick demo: digits, NSGA-II under 40 MFLOPs
  oneshot-pipeline data=cifar10_npz train=cifar_cpu constraint.flops_max=30e6
"""
from ..workflows.pipeline import run_pipeline
from .app import hydra_app

main = hydra_app("pipeline", run_pipeline, __doc__,
                 groups=("space", "supernet", "data", "sampler", "train", "evaluator", "search", "constraint", "device", "runtime"),
                 keys=("name", "checkpoint", "out_dir"))

if __name__ == "__main__":
    main()

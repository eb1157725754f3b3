"""`oneshot-search checkpoint=checkpoints/supernet.pt constraint.flops_max=30e6` (stage two).

Examples:
  oneshot-search checkpoint=checkpoints/supernet.pt constraint.flops_max=30e6
  oneshot-search checkpoint=checkpoints/supernet.pt device=cpu_1t constraint.latency_max=4   # needs luts/cpu_1t.csv
  oneshot-search -m checkpoint=checkpoints/supernet.pt constraint.flops_max=20e6,40e6 device=cpu_1t,cpu_2t
"""
from ..workflows.search import run_search_from_config
from .app import hydra_app

main = hydra_app("search", run_search_from_config, __doc__,
                 groups=("space", "supernet", "data", "evaluator", "search", "constraint", "device", "runtime"),
                 keys=("name", "checkpoint", "out_dir"))

if __name__ == "__main__":
    main()

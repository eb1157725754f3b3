"""`oneshot-search checkpoint=checkpoints/supernet.pt constraint.flops_max=30e6` (stage two).

Sweep constraints and devices over one checkpoint with Hydra's multirun:
`oneshot-search -m checkpoint=... constraint.flops_max=20e6,40e6 device=cpu_1t,cpu_2t`."""
from ..workflows.search import run_search_from_config
from .app import hydra_app

main = hydra_app("search", run_search_from_config)

if __name__ == "__main__":
    main()

"""`oneshot-dnas`: single-stage differentiable hardware-aware search on the supernet -- FBNet
(Gumbel-softmax), GDAS (hard Gumbel) or ProxylessNAS (binary gates) -- with an expected latency
(the device profile's LUT) or FLOPs loss; writes best_subnet.json (for oneshot-retrain /
oneshot-export), alpha.csv / alpha.png and metrics.csv; resumable (checkpoints/<name>.pt).

Examples:
  oneshot-dnas                                              # FBNet, FLOPs loss, on digits
  oneshot-dnas method=gdas cost.target=40e6                 # GDAS, FLOPs target 40M
  oneshot-dnas method=proxyless cost.metric=latency device=cpu_2t cost.target=3   # ms, needs luts/cpu_2t.csv
  oneshot-dnas supernet.init_from=checkpoints/supernet.pt method.warmup_epochs=0   # from stage one's supernet
"""
from ..workflows.dnas import run_dnas
from .app import hydra_app

main = hydra_app("dnas", run_dnas, __doc__,
                 groups=("space", "supernet", "data", "method", "train", "evaluator", "device", "runtime"),
                 keys=("name", "checkpoint", "out_dir", "cost"))

if __name__ == "__main__":
    main()

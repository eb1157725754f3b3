"""`oneshot-lut [build|validate|import] device=cpu_2t space=nas_bench_macro` (latency tables).

    oneshot-lut device=cpu_1t                       # measure every op key of the space (resumable)
    oneshot-lut validate device=cpu_1t              # end-to-end check: tau, r, MAPE, affine correction
    oneshot-lut import device=nsganetv2_i7_8700k extra.source=../shared/data/luts/nsganetv2/i7-8700K_lut.yaml
"""
import sys

from ..workflows.lut import ACTIONS, run_lut
from .app import hydra_app

_main = hydra_app("lut", run_lut, __doc__,
                  groups=("space", "device", "runtime"),
                  keys=("extra", "out_dir"))


def main() -> None:
    # a leading sub-command is sugar for the extra.action override
    if len(sys.argv) > 1 and sys.argv[1] in ACTIONS:
        sys.argv[1] = f"extra.action={sys.argv[1]}"
    _main()


if __name__ == "__main__":
    main()

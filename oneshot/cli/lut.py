"""`oneshot-lut [build|validate|import] device=cpu_2t space=nas_bench_macro` (latency tables).

    oneshot-lut device=cpu_1t                       # measure every op key of the space (resumable)
    oneshot-lut validate device=cpu_1t              # end-to-end check: tau, r, MAPE, affine correction
    oneshot-lut import device=nsganetv2_i7_8700k lut.source=../shared/data/luts/nsganetv2/i7-8700K_lut.yaml
"""
import sys

from ..latency.lut_settings import LUT_ACTIONS
from ..workflows.lut import run_lut
from .app import hydra_app

_main = hydra_app("lut", run_lut, __doc__,
                  groups=("space", "device", "runtime"),
                  keys=("lut", "out_dir"))


def main() -> None:
    # a leading sub-command is sugar for the lut.action override
    if len(sys.argv) > 1 and sys.argv[1] in LUT_ACTIONS:
        sys.argv[1] = f"lut.action={sys.argv[1]}"
    _main()


if __name__ == "__main__":
    main()

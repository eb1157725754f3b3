"""Optional TensorBoard scalars of a search, one point per generation.

``runtime.tensorboard=true`` hands a :class:`SearchTensorBoard` to
:func:`~oneshot.search.run_search` as its per-generation callback. Scalars (step =
generation): ``search/hypervolume``, ``search/best_accuracy`` (best feasible so
far), ``search/feasible_fraction``, ``search/evaluations`` (distinct archs
evaluated), and ``search/hypervolume_vs_evaluations`` (step = evaluations, the
curve of ``hypervolume.png``).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import UnsatisfiableError

#: history column -> TensorBoard tag, step = generation
GENERATION_SCALARS = {"hypervolume": "search/hypervolume", "best_accuracy": "search/best_accuracy",
                      "feasible_fraction": "search/feasible_fraction", "evaluations": "search/evaluations"}


def summary_writer(log_dir: "str | Path"):
    """``torch.utils.tensorboard.SummaryWriter`` on ``log_dir``, or a clear error without tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch imports it lazily and needs the tensorboard package
        raise UnsatisfiableError("runtime.tensorboard=true needs the tensorboard package: pip install tensorboard "
                           f"(or pip install -e \".[dev]\"); {e}") from None
    return SummaryWriter(log_dir=str(log_dir))


class SearchTensorBoard:
    """Per-generation callback writing a search's history rows as TensorBoard scalars."""

    def __init__(self, log_dir: "str | Path"):
        self.log_dir = Path(log_dir)
        self.writer = summary_writer(self.log_dir)

    def __call__(self, row: dict) -> None:
        step = int(row["generation"])
        for column, tag in GENERATION_SCALARS.items():
            value = float(row[column])
            if not math.isnan(value):  # no feasible arch yet: nothing to plot
                self.writer.add_scalar(tag, value, step)
        self.writer.add_scalar("search/hypervolume_vs_evaluations", float(row["hypervolume"]),
                               int(row["evaluations"]))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

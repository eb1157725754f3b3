"""Alpha trajectories: per epoch, every layer's candidate probabilities (CSV + a plot)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..io import save_figure, write_csv
from ..space.space import SearchSpace


def trajectory_frame(space: SearchSpace, trajectory: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Long table: ``epoch, layer, choice, op, prob, derived_arch, tau[, expected_cost, derived_cost]``."""
    rows = []
    for rec in trajectory:
        extra = {k: rec[k] for k in ("tau", "expected_cost", "derived_cost") if k in rec}
        for layer, probs in enumerate(rec["probs"]):
            for choice, p in enumerate(probs):
                rows.append({"epoch": rec["epoch"], "layer": layer, "choice": choice,
                             "op": space.layers[layer].candidates[choice].name, "prob": p,
                             "derived_arch": rec["arch"], **extra})
    return pd.DataFrame(rows)


def plot_trajectory(frame: pd.DataFrame, path: "str | Path") -> Path:
    """One panel per layer: each candidate's probability over epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = sorted(frame["layer"].unique())
    cols = min(4, len(layers))
    rows = -(-len(layers) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharex=True, sharey=True)
    for ax, layer in zip(axes.flat, layers):
        part = frame[frame["layer"] == layer]
        for (choice, op), g in part.groupby(["choice", "op"]):
            ax.plot(g["epoch"], g["prob"], marker=".", label=f"{choice}: {op}")
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    fig.suptitle("softmax(alpha) per layer", fontsize=10)
    fig.tight_layout()
    try:
        return save_figure(path, fig, dpi=110)
    finally:
        plt.close(fig)


class AlphaTrajectory:
    """Trainer callback: records the strategy's probabilities at each epoch end (into its state,
    so a resumed run keeps them) and rewrites ``alpha.csv`` / ``alpha.png`` in ``out_dir`` (rank 0)."""

    def __init__(self, space: SearchSpace, out_dir: "str | Path", plot: bool = True):
        self.space, self.out_dir, self.plot = space, Path(out_dir), plot

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        strategy = trainer.strategy
        rec = strategy.record(int(row["epoch"]) + 1)
        row["derived_arch"] = rec["arch"]
        for key in ("expected_cost", "derived_cost"):
            if key in rec:
                row[key] = rec[key]
        if trainer.dist.is_main:
            self.write(strategy.trajectory)

    def write(self, trajectory: Sequence[dict[str, Any]]) -> pd.DataFrame:
        frame = trajectory_frame(self.space, trajectory)
        write_csv(self.out_dir / "alpha.csv", frame)
        if self.plot:
            plot_trajectory(frame, self.out_dir / "alpha.png")
        return frame

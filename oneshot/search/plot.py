"""`pareto.png` (every evaluated arch, the Pareto front, the constraint lines) and
`hypervolume.png` (hypervolume against distinct evaluations).

Uses matplotlib's object API with the Agg canvas, so it never touches pyplot's
global state or needs a display.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import save_figure

_SCALE = {"flops": (1e6, "FLOPs (M MACs)"), "params": (1e6, "params (M)"), "latency": (1.0, "latency (ms)")}


def plot_pareto(frame: pd.DataFrame, front: pd.DataFrame, path: "str | Path",
                objectives: Sequence[str] = ("accuracy", "flops"),
                limits: Mapping[str, float] | None = None, title: str | None = None) -> Path:
    """Write :func:`pareto_figure` to ``path``."""
    return save_figure(path, pareto_figure(frame, front, objectives, limits, title), dpi=120)


def pareto_figure(frame: pd.DataFrame, front: pd.DataFrame, objectives: Sequence[str] = ("accuracy", "flops"),
                  limits: Mapping[str, float] | None = None, title: str | None = None) -> Figure:
    """Scatter accuracy against the first cost objective (FLOPs if there is none)."""
    limits = dict(limits or {})
    costs = [o for o in objectives if o != "accuracy"]
    x = costs[0] if costs else ("flops" if "flops" in frame else next(iter(limits), "flops"))
    scale, label = _SCALE.get(x, (1.0, x))
    fig = Figure(figsize=(6.4, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    done = frame[frame["evaluated"].astype(bool)] if "evaluated" in frame else frame
    feas = done["feasible"].astype(bool) if "feasible" in done else pd.Series(True, index=done.index)
    ax.scatter(done.loc[feas, x] / scale, done.loc[feas, "accuracy"], s=10, c="tab:blue", alpha=0.35,
               label=f"evaluated ({int(feas.sum())})")
    if (~feas).any():
        ax.scatter(done.loc[~feas, x] / scale, done.loc[~feas, "accuracy"], s=12, marker="x", c="tab:red",
                   alpha=0.5, label=f"infeasible ({int((~feas).sum())})")
    if len(front):
        ordered = front.sort_values(x)
        ax.step(ordered[x] / scale, ordered["accuracy"], where="post", c="tab:orange", lw=1.2)
        ax.scatter(ordered[x] / scale, ordered["accuracy"], s=28, c="tab:orange", edgecolors="k",
                   linewidths=0.5, zorder=3, label=f"Pareto front ({len(front)})")
    if x in limits:
        ax.axvline(limits[x] / scale, c="tab:red", ls="--", lw=1, label=f"{x} limit")
    other = [f"{k} <= {v:.4g}" for k, v in limits.items() if k != x]
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy (%)")
    heading = title or "search result"
    ax.set_title(heading + (f"  [{', '.join(other)}]" if other else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_hypervolume(history: pd.DataFrame, path: "str | Path", title: str | None = None) -> Path:
    """Write :func:`hypervolume_figure` to ``path``."""
    return save_figure(path, hypervolume_figure(history, title), dpi=120)


def hypervolume_figure(history: pd.DataFrame, title: str | None = None) -> Figure:
    """Hypervolume of the feasible front after each generation against distinct evaluations."""
    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if len(history):
        ax.step(history["evaluations"], history["hypervolume"], where="post", c="tab:blue", lw=1.2)
        ax.scatter(history["evaluations"], history["hypervolume"], s=12, c="tab:blue")
    ax.set_xlabel("distinct evaluations")
    ax.set_ylabel("hypervolume (normalised, see history.csv)")
    ax.set_title(title or "search progress", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig

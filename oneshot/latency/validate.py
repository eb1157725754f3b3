"""LUT validation: end-to-end latency of random stand-alone networks vs the table's sum.

Calibration and validation archs are disjoint: an optional affine correction
(``measured ~ slope * sum + intercept``) is fitted on the calibration archs only,
stored in the table's metadata, and judged on the validation archs.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..io import atomic_write_text, save_figure
from ..space.arch import Arch
from ..space.space import SearchSpace
from .profile import DeviceProfile
from .table import LatencyLUT
from .timing import load_average, warn_if_busy
from .worker import open_measurer

log = logging.getLogger(__name__)

# (space, archs, profile) -> per-arch samples in ms, shape (n_archs, n_samples)
ArchTimer = Callable[[SearchSpace, Sequence[Arch], DeviceProfile], np.ndarray]

GOAL_TAU, GOAL_MAPE = 0.9, 10.0


@dataclass(frozen=True)
class Agreement:
    """How well predictions match measurements."""

    kendall_tau: float
    pearson_r: float
    mape: float  # mean absolute percentage error, %
    n: int

    def meets_goal(self, tau: float = GOAL_TAU, mape: float = GOAL_MAPE) -> bool:
        return self.kendall_tau >= tau and self.mape <= mape

    def __str__(self) -> str:
        return f"tau={self.kendall_tau:.3f} r={self.pearson_r:.3f} MAPE={self.mape:.1f}%"


def agreement(predicted: Sequence[float], measured: Sequence[float]) -> Agreement:
    from scipy import stats

    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if p.shape != m.shape or p.size < 2:
        raise ValueError(f"need two equally long arrays of >= 2 values, got {p.shape} and {m.shape}")
    tau = float(stats.kendalltau(p, m).statistic)
    r = float(stats.pearsonr(p, m).statistic) if np.ptp(p) > 0 and np.ptp(m) > 0 else float("nan")
    mape = float(np.mean(np.abs(p - m) / m) * 100.0)
    return Agreement(tau, r, mape, int(p.size))


def statistic_of(samples: np.ndarray, statistic: str) -> np.ndarray:
    """Per-row ``median`` or ``p25`` of a ``(n, samples)`` array."""
    if statistic == "median":
        return np.median(samples, axis=1)
    if statistic == "p25":
        return np.percentile(samples, 25, axis=1)
    raise ValueError(f"unknown statistic {statistic!r}: median or p25")


def fit_affine(predicted: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``measured ~ slope * predicted + intercept``."""
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if p.size < 2 or np.ptp(p) == 0:
        raise ValueError("an affine correction needs >= 2 calibration archs with different predictions")
    slope, intercept = np.polyfit(p, m, 1)
    return float(slope), float(intercept)


def sample_archs(space: SearchSpace, n: int, rng: np.random.Generator) -> list[Arch]:
    """``n`` distinct random networks (canonical archs; fewer if the space has fewer)."""
    seen: dict[tuple, None] = {}
    for _ in range(100):
        genomes = space.canonical_batch(rng.integers(0, space.num_choices, size=(4 * n + 16, space.num_layers)))
        for g in genomes:
            seen.setdefault(tuple(int(c) for c in g), None)
            if len(seen) >= n:
                return [Arch(a) for a in list(seen)[:n]]
    log.warning("space %r: only %d distinct networks found, %d asked", space.name, len(seen), n)
    return [Arch(a) for a in seen]


def measure_archs(space: SearchSpace, archs: Sequence[Arch], profile: DeviceProfile, *,
                  repeats: int | None = None, rounds: int | None = None, progress: bool = True, seed: int = 0,
                  isolate: bool | None = None) -> np.ndarray:
    """End-to-end latency samples (ms), shape ``(len(archs), samples)``, of stand-alone networks.

    Each arch is built with :meth:`SubNet.build` (fresh weights: latency does not
    depend on them). ``repeats`` (default ``profile.repeats``) timed calls per arch are
    spread over ``rounds`` (default ``profile.rounds``) passes over all archs, shuffled
    each pass, so changes of machine load spread over all archs. Runs in a worker
    process when the profile's OpenMP env needs one (see ``worker.py``).
    """
    repeats = profile.repeats if repeats is None else repeats
    rounds = profile.rounds if rounds is None else rounds
    per_round = max(1, math.ceil(repeats / rounds))
    rng = np.random.default_rng(seed)
    samples: list[list[float]] = [[] for _ in archs]
    warn_if_busy(profile, f"measuring {len(archs)} networks end to end")
    with open_measurer(profile, isolate) as m, tqdm(total=rounds * len(archs), desc=f"e2e {profile.name}",
                                                   unit="arch", disable=not progress) as bar:
        m.load_archs(space.to_config(), [list(a) for a in archs], seed)
        for r in range(rounds):
            for i in rng.permutation(len(archs)):
                warmup = profile.warmup if r == 0 else min(2, profile.warmup)
                samples[i].extend(np.asarray(m.time_arch(int(i), warmup, per_round), float).tolist())
                bar.update()
    width = min(len(s) for s in samples)
    return np.array([s[:width] for s in samples])


@dataclass
class ValidationReport:
    space: str
    profile: str
    batch: int
    plain: Agreement
    corrected: Agreement | None
    correction: tuple[float, float] | None
    correction_fitted_here: bool
    n_calib: int
    statistic: str = "median"
    csv_path: Path | None = None
    png_path: Path | None = None
    lut_path: Path | None = None
    extras: dict = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"LUT validation: space {self.space}, profile {self.profile}, batch {self.batch}, "
                 f"{self.plain.n} validation archs, statistic {self.statistic} (table column and "
                 "end-to-end samples)",
                 f"  plain sum of table rows:  {self.plain}"]
        if self.corrected is not None and self.correction is not None:
            how = (f"fitted on {self.n_calib} separate calibration archs and stored in {self.lut_path}"
                   if self.correction_fitted_here else "stored in the table")
            lines.append(f"  affine-corrected sum:     {self.corrected}  (measured = {self.correction[0]:.4f} x sum "
                         f"{self.correction[1]:+.4f} ms, {how})")
        if self.extras.get("load_avg_before"):
            lines.append(f"  load average (1/5/15 min) while measuring: {self.extras['load_avg_before']} -> "
                         f"{self.extras.get('load_avg_after', '')}; when the table was measured: "
                         f"{self.extras.get('table_load_avg') or 'unknown'}")
        best = self.corrected or self.plain
        lines.append(f"  goal tau >= {GOAL_TAU} and MAPE <= {GOAL_MAPE}%: {'met' if best.meets_goal() else 'NOT met'}")
        if self.csv_path:
            lines.append(f"  wrote {self.csv_path} and {self.png_path}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("csv_path", "png_path", "lut_path"):
            d[k] = None if d[k] is None else str(d[k])
        return d


def validate_lut(space: SearchSpace, profile: DeviceProfile, lut: "LatencyLUT | str | Path | None" = None, *,
                 n_archs: int = 50, n_calib: int = 20, seed: int = 0, out_dir: "str | Path | None" = ".",
                 fit_correction: bool | None = None, save: bool = True, root: "str | Path | None" = None,
                 arch_timer: ArchTimer | None = None, repeats: int | None = None, rounds: int | None = None,
                 progress: bool = True, force: bool = False, isolate: bool | None = None,
                 stem: str = "lut_validation") -> ValidationReport:
    """Compare the table's predictions with measured end-to-end latency of random archs.

    * ``lut``: a table, its path, or ``None`` for ``profile.lut_path(root)``.
    * ``n_calib`` calibration archs (disjoint from the ``n_archs`` validation archs)
      fit the affine correction when ``fit_correction`` (default
      ``profile.latency_correction``); it is stored in the table's metadata and, with
      ``save``, written back to its file.
    * Writes ``out_dir/<stem>.csv`` and ``out_dir/<stem>.png`` (default stem
      ``lut_validation``; ``out_dir=None`` writes nothing).
    * ``arch_timer(space, archs, profile)`` measures (default :func:`measure_archs` with
      ``repeats`` / ``rounds``, defaults from the profile).
    """
    if not isinstance(lut, LatencyLUT):
        lut = LatencyLUT.load(lut if lut is not None else profile.lut_path(root), profile=profile,
                              space=space, force=force)
    else:
        lut.check_profile(profile, force=force)
    fit = profile.latency_correction if fit_correction is None else fit_correction
    n_cal = n_calib if fit else 0
    archs = sample_archs(space, n_archs + n_cal, np.random.default_rng(seed))
    predicted = lut.predict(archs, space, corrected=False)  # fails early on missing keys
    load_before = load_average()
    if arch_timer is None:
        samples = measure_archs(space, archs, profile, repeats=repeats, rounds=rounds, progress=progress,
                                seed=seed, isolate=isolate)
    else:
        samples = np.asarray(arch_timer(space, archs, profile), dtype=float)
        samples = samples[:, None] if samples.ndim == 1 else samples
    measured = statistic_of(samples, lut.statistic)
    if fit:
        slope, intercept = fit_affine(predicted[:n_cal], measured[:n_cal])
        lut.set_correction(slope, intercept, space=space.name, n=n_cal)
        if save and lut.path is not None:
            lut.save()
        log.info("fitted latency correction measured = %.4f * sum %+.4f ms on %d calibration archs",
                 slope, intercept, n_cal)
    correction = lut.correction
    corrected = predicted * correction[0] + correction[1] if correction else None
    report = ValidationReport(
        space=space.name, profile=profile.name, batch=profile.batch,
        plain=agreement(predicted[n_cal:], measured[n_cal:]),
        corrected=agreement(corrected[n_cal:], measured[n_cal:]) if corrected is not None else None,
        correction=correction, correction_fitted_here=fit, n_calib=n_cal, statistic=lut.statistic,
        lut_path=lut.path,
        extras={"load_avg_before": load_before, "load_avg_after": load_average(),
                "table_load_avg": lut.metadata.get("load_avg", "")})
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        report.csv_path = _write_csv(out / f"{stem}.csv", archs, n_cal, samples, measured, predicted, corrected)
        report.png_path = _plot(out / f"{stem}.png", predicted, corrected, measured, n_cal, report)
    log.info("%s", report.summary())
    return report


def _write_csv(path: Path, archs: Sequence[Arch], n_cal: int, samples: np.ndarray, measured: np.ndarray,
               predicted: np.ndarray, corrected: np.ndarray | None) -> Path:
    """``measured_ms`` is the table's statistic of the samples; median and IQR follow."""
    p25, med, p75 = (v.astype(float).tolist() for v in np.percentile(samples, [25, 50, 75], axis=1))
    lines = ["arch,split,measured_ms,measured_median,measured_p25,measured_p75,n,predicted_ms,corrected_ms"]
    for i, a in enumerate(archs):
        corr = "" if corrected is None else repr(float(corrected[i]))
        lines.append(f"{a},{'calib' if i < n_cal else 'val'},{float(measured[i])!r},{med[i]!r},{p25[i]!r},"
                     f"{p75[i]!r},{samples.shape[1]},{float(predicted[i])!r},{corr}")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _plot(path: Path, predicted: np.ndarray, corrected: np.ndarray | None, measured: np.ndarray, n_cal: int,
          report: ValidationReport) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    val = slice(n_cal, None)
    ax.scatter(predicted[val], measured[val], s=14, label=f"plain sum ({report.plain})")
    if corrected is not None and report.corrected is not None:
        ax.scatter(corrected[val], measured[val], s=14, marker="x", label=f"corrected ({report.corrected})")
    if n_cal:
        ax.scatter(predicted[:n_cal], measured[:n_cal], s=10, c="grey", alpha=0.5, label="calibration (plain)")
    values = np.concatenate([predicted, measured] + ([corrected] if corrected is not None else []))
    lo, hi = float(values.min()) * 0.95, float(values.max()) * 1.05
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("measured latency (ms)")
    ax.set_title(f"{report.space} on {report.profile}, batch {report.batch}", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(path, fig, dpi=120)
    return path

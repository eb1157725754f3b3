"""`LatencyLUT`: a per-device table ``key -> latency``, its CSV file and fast prediction.

File format (``luts/<profile>.csv``): ``# name: value`` metadata lines, then a CSV
with columns ``key,median_ms,p25,p75,n``. Metadata always has ``profile``,
``kind``, ``threads``, ``batch``, ``device``, ``torch``, ``date``, ``source``,
``statistic`` (the column that predicts: ``median`` or ``p25``); a
fitted affine correction adds ``correction_slope``, ``correction_intercept``,
``correction_space`` and ``correction_n`` (corrected = slope * sum + intercept).
"""
from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping, Sequence, Union

import numpy as np

from ..io import atomic_write_text
from ..space.space import SearchSpace
from .keys import fixed_keys, is_noop_key, layer_keys
from .profile import DeviceProfile
from ..errors import OneshotError, UserInputError

log = logging.getLogger(__name__)

FORMAT = "oneshot-latency-lut-v1"
COLUMNS = ("key", "median_ms", "p25", "p75", "n")
CHECKED_FIELDS = ("profile", "kind", "batch", "threads", "omp_wait_policy", "statistic")
OPTIONAL_FIELDS = ("threads", "omp_wait_policy", "statistic")  # compared only when both sides state them
STAT_COLUMNS = {"median": "median_ms", "p25": "p25"}

ArchLike = Union[np.ndarray, Sequence[Sequence[int]]]


class MissingKeysError(OneshotError, LookupError):
    """A table lacks keys a space needs; the message names them and the command to measure them."""

    def __init__(self, message: str, missing: Sequence[str]):
        super().__init__(message)
        self.missing = list(missing)


class LUTMismatchError(UserInputError):
    """A table's metadata does not match the requested device profile."""


@dataclass(frozen=True)
class Row:
    median_ms: float
    p25: float
    p75: float
    n: int


def row_problem(row: Row) -> str | None:
    """What makes a row unusable (a time not finite and > 0, or p25 <= median <= p75 broken), or None."""
    for name in ("median_ms", "p25", "p75"):
        value = getattr(row, name)
        if not math.isfinite(value) or value <= 0:
            return f"{name}={value} must be a finite time > 0 ms"
    if not row.p25 <= row.median_ms <= row.p75:
        return f"needs p25 <= median_ms <= p75, got {row.p25} / {row.median_ms} / {row.p75}"
    if row.n < 0:  # 0: imported from a published table that does not say
        return f"n={row.n} must be a count of measurements (>= 0)"
    return None


def _utf8_lines(f: IO[bytes], path: Path, hint: str) -> Iterator[str]:
    for lineno, raw in enumerate(f, 1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path}:{lineno}: not UTF-8 text (is it a latency table CSV?); rebuild it with "
                             f"`{hint}`") from None


def measure_command(profile: str, space: str) -> str:
    return f"oneshot-lut device={profile} space={space}"


class LatencyLUT:
    """Latency per op key for one device profile.

    ``LatencyLUT.load(path, profile=..., space=...).predict(archs)`` returns the
    predicted latency (ms) of every arch: stem + head + the sum of its layers' rows,
    times the table's affine correction when the profile asks for it.
    """

    def __init__(self, rows: Mapping[str, Row] | None = None, metadata: Mapping[str, str] | None = None,
                 path: "str | Path | None" = None):
        self.rows: dict[str, Row] = dict(rows or {})
        self.metadata: dict[str, str] = {k: str(v) for k, v in (metadata or {}).items()}
        self.path = Path(path) if path is not None else None
        self.space: SearchSpace | None = None
        self.use_correction: bool | None = None  # None: apply whenever the table has one
        self._models: dict[tuple, LatencyModel] = {}

    # ---------------------------------------------------------------- rows
    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: object) -> bool:
        return key in self.rows or (isinstance(key, str) and is_noop_key(key))

    def keys(self) -> list[str]:
        return list(self.rows)

    @property
    def statistic(self) -> str:
        """The column that predicts: ``median`` (default) or ``p25`` (metadata ``statistic``)."""
        stat = self.metadata.get("statistic") or "median"
        if stat not in STAT_COLUMNS:
            raise ValueError(f"latency table {self.path}: unknown statistic {stat!r}; known: {list(STAT_COLUMNS)}")
        return stat

    def latency(self, key: str) -> float:
        """Latency (ms) of one key in the table's statistic; 0 for true no-ops."""
        if is_noop_key(key):
            return 0.0
        return float(getattr(self.rows[key], STAT_COLUMNS[self.statistic]))

    def set_metadata(self, **values: str) -> None:
        self.metadata.update({k: str(v) for k, v in values.items()})
        self._models.clear()

    def set(self, key: str, row: Row) -> None:
        self.rows[key] = row
        self._models.clear()

    def missing(self, keys: Iterable[str]) -> list[str]:
        return [k for k in dict.fromkeys(keys) if k not in self]

    @property
    def profile_name(self) -> str:
        return self.metadata.get("profile", "<profile>")

    # ---------------------------------------------------------- correction
    @property
    def correction(self) -> tuple[float, float] | None:
        """``(slope, intercept)`` of the stored affine correction, if any."""
        if "correction_slope" not in self.metadata:
            return None
        return float(self.metadata["correction_slope"]), float(self.metadata["correction_intercept"])

    def set_correction(self, slope: float, intercept: float, space: str = "", n: int = 0) -> None:
        self.metadata.update(correction_slope=repr(float(slope)), correction_intercept=repr(float(intercept)),
                             correction_space=space, correction_n=str(int(n)))
        self._models.clear()

    def clear_correction(self) -> None:
        for k in ("correction_slope", "correction_intercept", "correction_space", "correction_n"):
            self.metadata.pop(k, None)
        self._models.clear()

    # ------------------------------------------------------------- profile
    def check_profile(self, profile: DeviceProfile, force: bool = False) -> None:
        """Refuse (``LUTMismatchError``) a table measured for another profile, unless ``force``."""
        wanted = profile.table_metadata()
        diffs = []
        for f in CHECKED_FIELDS:
            have, want = self.metadata.get(f, ""), wanted[f]
            if f in OPTIONAL_FIELDS and (not have or not want):
                continue  # unknown on one side: nothing to compare
            if have != want:
                diffs.append(f"{f}: table {have or '<missing>'!r} vs profile {want!r}")
        if not diffs:
            return
        where = f"latency table {str(self.path) if self.path else '<memory>'}"
        message = (f"{where} does not match device profile {profile.name!r} ({'; '.join(diffs)}). "
                   f"Measure a table for it (`{measure_command(profile.name, '<space>')}`) or accept it anyway with force=True (command line: device.force_lut=true).")
        if not force:
            raise LUTMismatchError(message)
        log.warning("using a mismatched table (forced): %s", message)

    # ---------------------------------------------------------------- I/O
    @classmethod
    def load(cls, path: "str | Path", profile: DeviceProfile | None = None, space: SearchSpace | None = None,
             force: bool = False) -> "LatencyLUT":
        """Read a table; with ``profile`` check its metadata (see :meth:`check_profile`)."""
        path = Path(path)
        hint = measure_command(profile.name if profile else "<profile>", space.name if space else "<space>")
        if not path.is_file():
            raise FileNotFoundError(f"latency table {path} not found; measure it with `{hint}`")
        metadata: dict[str, str] = {}
        rows: dict[str, Row] = {}
        first_line: dict[str, int] = {}
        header_seen = False
        with open(path, "rb") as f:
            for lineno, raw in enumerate(_utf8_lines(f, path, hint), 1):
                line = raw.strip()
                if not line:
                    continue
                if line.startswith("#"):
                    body = line[1:].strip()
                    if ":" in body:
                        name, value = body.split(":", 1)
                        metadata[name.strip()] = value.strip()
                    continue
                parts = [p.strip() for p in line.split(",")]
                if not header_seen:
                    if tuple(parts) != COLUMNS:
                        raise ValueError(f"{path}:{lineno}: expected header {','.join(COLUMNS)}, got {line!r}")
                    header_seen = True
                    continue
                if len(parts) != len(COLUMNS):
                    raise ValueError(f"{path}:{lineno}: expected {len(COLUMNS)} fields, got {line!r}")
                try:
                    row = Row(float(parts[1]), float(parts[2]), float(parts[3]), int(parts[4]))
                except ValueError as e:
                    raise ValueError(f"{path}:{lineno}: bad row {line!r}: {e}") from None
                problem = row_problem(row)
                if problem:
                    raise ValueError(f"{path}:{lineno}: bad row for {parts[0]!r}: {problem}; fix or re-measure it")
                if parts[0] in rows:
                    raise ValueError(f"{path}:{lineno}: duplicate key {parts[0]!r} (first at line "
                                     f"{first_line[parts[0]]}); keep one row per key")
                rows[parts[0]] = row
                first_line[parts[0]] = lineno
        metadata.pop("format", None)
        lut = cls(rows, metadata, path)
        if profile is not None:
            lut.check_profile(profile, force=force)
            lut.use_correction = profile.latency_correction
        lut.space = space
        return lut

    def save(self, path: "str | Path | None" = None) -> Path:
        """Write atomically (temp file in the same folder + ``os.replace``)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("LatencyLUT.save: no path given and the table was not loaded from a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"# format: {FORMAT}"]
        lines += [f"# {k}: {' '.join(str(v).split())}" for k, v in self.metadata.items()]
        lines.append(",".join(COLUMNS))
        for key in sorted(self.rows):
            r = self.rows[key]
            lines.append(f"{key},{r.median_ms!r},{r.p25!r},{r.p75!r},{r.n}")
        atomic_write_text(target, "\n".join(lines) + "\n")
        self.path = target
        return target

    # ----------------------------------------------------------- predict
    def model(self, space: SearchSpace | None = None, include_fixed: bool = True,
              corrected: bool | None = None) -> "LatencyModel":
        """The compiled per-(layer, choice) table of ``space`` (cached)."""
        space = space or self.space
        if space is None:
            raise ValueError("LatencyLUT: pass the space to predict for (or load(..., space=space))")
        apply = self._resolve_correction(corrected, space)
        cache_key = (space.fingerprint(), include_fixed, apply, self.statistic)
        if cache_key not in self._models:
            self._models[cache_key] = LatencyModel(self, space, include_fixed, apply)
        return self._models[cache_key]

    def predict(self, archs: ArchLike, space: SearchSpace | None = None, corrected: bool | None = None,
                include_fixed: bool = True) -> np.ndarray:
        """Latency (ms) of each arch (an ``(n, layers)`` int array or a list of archs)."""
        return self.model(space, include_fixed, corrected).predict(archs)

    def _resolve_correction(self, corrected: bool | None, space: SearchSpace) -> bool:
        has = self.correction is not None
        if corrected is None:
            corrected = has if self.use_correction is None else self.use_correction
            if corrected and not has:
                log.warning("profile %s asks for a latency correction but table %s has none; using the plain "
                            "sum (fit one with `oneshot-lut validate device=%s space=%s`)",
                            self.profile_name, self.path, self.profile_name, space.name)
                return False
        if corrected and not has:
            raise ValueError(f"latency table {self.path} has no fitted correction; fit one with "
                             f"`oneshot-lut validate device={self.profile_name} space={space.name}`")
        fitted_on = self.metadata.get("correction_space", "")
        if corrected and fitted_on and fitted_on != space.name:
            log.warning("latency correction of %s was fitted on space %r, applied to space %r",
                        self.path, fitted_on, space.name)
        return bool(corrected)

    def __repr__(self) -> str:
        return f"LatencyLUT({self.profile_name!r}, keys={len(self.rows)}, path={str(self.path)!r})"


def as_genomes(archs: ArchLike) -> np.ndarray:
    """``(n, layers)`` int64 array from an array or a list of archs (fast path for lists of tuples)."""
    if isinstance(archs, np.ndarray):
        return archs.astype(np.int64, copy=False)
    if isinstance(archs, (list, tuple)) and archs and isinstance(archs[0], (list, tuple)):
        width = len(archs[0])
        if all(len(a) == width for a in archs):
            flat = np.fromiter(itertools.chain.from_iterable(archs), dtype=np.int64, count=len(archs) * width)
            return flat.reshape(len(archs), width)
    return np.asarray(archs, dtype=np.int64)


class LatencyModel:
    """``arch -> latency`` for one space: numpy fancy indexing over a (layers, choices) table.

    ``table[l, c]`` is the median latency of choice ``c`` at layer ``l``; ``base`` the
    stem + head. ``predict`` sums rows, adds ``base`` and applies the correction.
    """

    def __init__(self, lut: LatencyLUT, space: SearchSpace, include_fixed: bool = True, corrected: bool = False):
        self.space = space
        keys = layer_keys(space)
        needed = [k for row in keys for k in row] + (fixed_keys(space) if include_fixed else [])
        missing = lut.missing(needed)
        if missing:
            source = lut.metadata.get("source", "measured")
            head = (f"latency table {lut.path or '<memory>'} (profile {lut.profile_name}) lacks {len(missing)} "
                    f"key(s) needed by space {space.name!r}: {', '.join(missing)}.")
            if source == "measured":
                how = f" Measure them with `{measure_command(lut.profile_name, space.name)}`."
            else:
                fixed = set(fixed_keys(space))
                how = (f" The table was imported ({source}) and cannot be extended by measuring here: a space "
                       "predicted from it must use layer shapes, ops and activations that exist in it"
                       + (" (only the stem/head are missing: predict(..., include_fixed=False) gives the "
                          "searchable layers alone)." if set(missing) <= fixed else "."))
            raise MissingKeysError(head + how, missing)
        width = int(space.num_choices.max())
        self.table = np.zeros((space.num_layers, width), dtype=np.float64)
        for layer, row in enumerate(keys):
            for choice, key in enumerate(row):
                self.table[layer, choice] = lut.latency(key)
        self.base = sum(lut.latency(k) for k in fixed_keys(space)) if include_fixed else 0.0
        if corrected and not include_fixed:
            raise ValueError("the latency correction applies to whole networks: use include_fixed=True")
        self.slope, self.intercept = lut.correction if corrected and lut.correction else (1.0, 0.0)
        self.include_fixed, self.corrected = include_fixed, corrected
        self._rows = np.arange(space.num_layers)
        self._num_choices = space.num_choices

    def predict(self, archs: ArchLike) -> np.ndarray:
        g = as_genomes(archs)
        if g.ndim == 1:
            g = g[None, :]
        if g.ndim != 2 or g.shape[1] != self.space.num_layers:
            raise ValueError(f"archs of shape {g.shape} do not fit space {self.space.name!r} "
                             f"({self.space.num_layers} layers)")
        if ((g < 0) | (g >= self._num_choices)).any():
            bad = int(np.argmax(((g < 0) | (g >= self._num_choices)).any(axis=1)))
            self.space.validate(g[bad].tolist())  # raises naming the layer
        total = self.table[self._rows, g].sum(axis=1) + self.base
        return total * self.slope + self.intercept if self.corrected else total

    __call__ = predict

    def bounds(self) -> tuple[float, float]:
        """Smallest and largest prediction over the space."""
        valid = np.arange(self.table.shape[1])[None, :] < self._num_choices[:, None]
        lo = np.where(valid, self.table, np.inf).min(axis=1).sum() + self.base
        hi = np.where(valid, self.table, -np.inf).max(axis=1).sum() + self.base
        if self.corrected:
            lo, hi = sorted((lo * self.slope + self.intercept, hi * self.slope + self.intercept))
        return float(lo), float(hi)

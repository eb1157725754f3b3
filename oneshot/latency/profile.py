"""`DeviceProfile`: where and how latency is measured (``conf/device/*.yaml``)."""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from ..errors import UnsatisfiableError
from .backends import DeviceBackend, backend_kinds, get_backend

STATISTICS = ("median", "p25")


@dataclass(frozen=True)
class DeviceProfile:
    """A named measurement setting; one latency table per profile.

    * ``name`` -- profile name; the table lives at ``luts/<name>.csv`` by default.
    * ``kind`` -- a registered device backend (:mod:`.backends`): ``cpu``, ``cuda`` or
      ``external`` (a device we do not own: its table is imported, never measured here).
    * ``threads`` -- ``torch.set_num_threads`` while measuring (cpu); ``None`` keeps
      torch's setting and is not checked against a table.
    * ``batch`` -- batch size of every measurement.
    * ``lut`` -- path of the table (relative paths: against the working directory
      the caller passes as ``root``, the current one by default).
    * ``latency_correction`` -- apply the table's fitted affine correction when
      predicting (fitted by validation on calibration archs).
    * ``warmup`` / ``repeats`` / ``max_seconds`` -- per measured op or network:
      warm-up calls, timed repetitions, and a time cap per call batch after which
      fewer repetitions (at least ``min(repeats, 10)``) are kept.
    * ``rounds`` -- repetitions are spread over this many interleaved passes over
      the ops (and networks, in validation), so changes of machine load hit all of
      them alike instead of biasing whichever was measured at the wrong moment.
    * ``omp_wait_policy`` -- ``passive`` / ``active`` / ``null`` (leave): OpenMP's
      ``OMP_WAIT_POLICY`` for measuring; when this process was not started with it,
      measurements run in a spawned worker process that is (see ``worker.py``).
    * ``statistic`` -- which column of the table predicts, and which statistic of
      end-to-end samples validation compares with: ``median`` or ``p25``. Every
      table stores both (median and IQR). On a CPU shared with other busy processes
      timings are bimodal (clean calls, and calls hit by a scheduler time slice of a
      few ms); the 25th percentile tracks the clean mode where the median can fall
      between the modes. On a quiet machine the two agree.
    """

    name: str
    kind: str = "cpu"
    threads: int | None = None
    batch: int = 1
    lut: str = ""
    latency_correction: bool = True
    warmup: int = 10
    repeats: int = 100
    max_seconds: float = 5.0
    rounds: int = 5
    omp_wait_policy: str | None = None
    statistic: str = "median"

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"device profile name {self.name!r} must be a non-empty file-name-like string")
        if self.kind not in backend_kinds():
            raise ValueError(f"device profile {self.name!r}: kind {self.kind!r} is not a registered device backend "
                             f"({', '.join(backend_kinds())}; oneshot.latency.register_backend adds one)")
        if self.threads is not None and int(self.threads) < 1:
            raise ValueError(f"device profile {self.name!r}: threads must be >= 1 or null")
        if int(self.batch) < 1:
            raise ValueError(f"device profile {self.name!r}: batch must be >= 1")
        if self.warmup < 0 or self.repeats < 1 or self.max_seconds <= 0 or self.rounds < 1:
            raise ValueError(f"device profile {self.name!r}: need warmup >= 0, repeats >= 1, rounds >= 1, "
                             "max_seconds > 0")
        if self.statistic not in STATISTICS:
            raise ValueError(f"device profile {self.name!r}: statistic must be one of {STATISTICS}, "
                             f"got {self.statistic!r}")
        if self.omp_wait_policy not in (None, "passive", "active"):
            raise ValueError(f"device profile {self.name!r}: omp_wait_policy must be passive, active or null, "
                             f"got {self.omp_wait_policy!r}")

    # ----------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "DeviceProfile":
        """From a plain mapping (``lut: luts/${.name}.csv`` as written in ``conf/device/*.yaml`` is resolved)."""
        data = dict(config)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"device profile: unknown key(s) {sorted(unknown)}; allowed: {sorted(known)}")
        if "name" not in data:
            raise ValueError("device profile needs a 'name'")
        lut = str(data.get("lut") or "")
        for pattern in ("${.name}", "${name}"):  # plain yaml.safe_load leaves these unresolved
            lut = lut.replace(pattern, str(data["name"]))
        data["lut"] = lut
        if data.get("threads") is not None:
            data["threads"] = int(data["threads"])
        if data.get("omp_wait_policy") is not None:
            data["omp_wait_policy"] = str(data["omp_wait_policy"]).lower()
        for key, typ in (("batch", int), ("warmup", int), ("repeats", int), ("max_seconds", float),
                         ("rounds", int)):
            if key in data:
                data[key] = typ(data[key])
        data["latency_correction"] = bool(data.get("latency_correction", True))
        return cls(**data)

    @classmethod
    def load(cls, name_or_path: "str | Path") -> "DeviceProfile":
        """A profile from ``conf/device/<name>.yaml`` or a YAML file path."""
        import yaml

        from ..paths import conf_dir

        path = Path(name_or_path)
        if not path.suffix:
            path = conf_dir() / "device" / f"{name_or_path}.yaml"
        if not path.is_file():
            available = sorted(p.stem for p in (conf_dir() / "device").glob("*.yaml"))
            raise FileNotFoundError(f"device profile {name_or_path!r} not found; available: {available}")
        cfg = yaml.safe_load(path.read_text()) or {}
        if not isinstance(cfg, dict):
            raise ValueError(f"device profile {path}: expected a mapping of settings")
        cfg.pop("defaults", None)
        return cls.from_config(cfg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ------------------------------------------------------------------ use
    def lut_path(self, root: "str | Path | None" = None) -> Path:
        path = Path(self.lut or f"luts/{self.name}.csv")
        if not path.is_absolute() and root is not None:
            path = Path(root) / path
        return path

    @property
    def backend(self) -> DeviceBackend:
        return get_backend(self.kind)

    @property
    def torch_device(self) -> torch.device:
        backend = self.backend
        if not backend.measurable:
            raise UnsatisfiableError(
                f"device profile {self.name!r} is {self.kind!r}: its table is imported, it cannot be measured here"
            )
        if not backend.is_available():
            raise UnsatisfiableError(f"device profile {self.name!r} needs a {self.kind} device, which is not "
                                     "available on this machine")
        return backend.device()

    @contextlib.contextmanager
    def activate(self) -> Iterator[torch.device]:
        """Set torch's thread count for the duration; yields the torch device."""
        device = self.torch_device
        before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))
        try:
            yield device
        finally:
            torch.set_num_threads(before)

    def table_metadata(self) -> dict[str, str]:
        """The fields a table records and is checked against (see ``LatencyLUT.check_profile``)."""
        return {"profile": self.name, "kind": self.kind, "batch": str(self.batch),
                "threads": "" if self.threads is None else str(self.threads),
                "omp_wait_policy": self.omp_wait_policy or "", "statistic": self.statistic}

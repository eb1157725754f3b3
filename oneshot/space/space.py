"""`SearchSpace`: the layers, their candidate ops and everything derived from them."""
from __future__ import annotations

import itertools
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import UserInputError
from .arch import Arch
from .ops import ACTIVATIONS, OpSpec, conv_out_size

SPACE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class LayerSpec:
    """A searchable layer: where it sits, its shapes and its candidate ops."""

    index: int
    stage: int
    position: int  # position inside its stage
    in_channels: int
    out_channels: int
    stride: int
    in_size: int
    candidates: tuple[OpSpec, ...]

    @property
    def out_size(self) -> int:
        return conv_out_size(self.in_size, 3, self.stride)

    @property
    def keeps_shape(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels

    def noop_choice(self) -> int | None:
        """Index of a true no-op candidate (identity/skip that keeps the shape), if any."""
        if not self.keeps_shape:
            return None
        for i, op in enumerate(self.candidates):
            if op.is_noop_kind:
                return i
        return None


class SearchSpace:
    """A single-path macro search space built from a plain config mapping.

    Config keys (see ``conf/space/*.yaml``): ``name``, ``input_size``, ``in_channels``,
    ``num_classes``, ``stem_channels``, ``stem_kernel``, ``stem_stride``,
    ``head_channels``, optional ``head_mix_channels`` (MobileNetV3's feature-mix 1x1 conv
    after the pool; omitted or 0: none), ``activation``, ``ops`` (default candidate list) and
    ``stages`` (each: ``layers``, ``channels``, ``stride``, optional ``ops`` and
    ``min_depth`` -- layers at positions below it get no no-op candidate, which is
    how elastic depth {min_depth..layers} is expressed: skips move to the stage end).
    """

    def __init__(self, config: Mapping[str, Any]):
        self.config = _normalise_config(config)
        c = self.config
        self.name: str = c["name"]
        self.input_size: int = c["input_size"]
        self.in_channels: int = c["in_channels"]
        self.num_classes: int = c["num_classes"]
        self.stem_channels: int = c["stem_channels"]
        self.stem_kernel: int = c["stem_kernel"]
        self.stem_stride: int = c["stem_stride"]
        self.head_channels: int = c["head_channels"]
        self.head_mix_channels: int = c.get("head_mix_channels", 0)
        self.activation: str = c["activation"]
        self.layers: tuple[LayerSpec, ...] = tuple(self._build_layers())
        if not self.layers:
            raise ValueError(f"space {self.name!r} has no searchable layers: add stages with layers >= 1")

    # ------------------------------------------------------------------ build
    def _build_layers(self) -> Iterator[LayerSpec]:
        c = self.config
        channels = self.stem_channels
        size = conv_out_size(self.input_size, self.stem_kernel, self.stem_stride)
        index = 0
        for s, stage in enumerate(c["stages"]):
            op_names = stage.get("ops") or c["ops"]
            ops = [OpSpec.parse(n) for n in op_names]
            for pos in range(stage["layers"]):
                stride = stage["stride"] if pos == 0 else 1
                out_ch = stage["channels"]
                keeps = stride == 1 and channels == out_ch
                # layers below min_depth are never dropped: no no-op there
                cands = tuple(op for op in ops
                              if (keeps or op.changes_shape)
                              and not (op.is_noop_kind and pos < stage.get("min_depth", 0)))
                if not cands:
                    raise ValueError(
                        f"space {self.name!r}, stage {s} layer {pos}: no candidate op fits "
                        "(only 'skip' was offered where the shape changes); add an mbconv or identity op"
                    )
                yield LayerSpec(index, s, pos, channels, out_ch, stride, size, cands)
                channels, size = out_ch, conv_out_size(size, 3, stride)
                index += 1

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SearchSpace":
        return cls(config)

    def to_config(self) -> dict[str, Any]:
        """Plain-python config that rebuilds this space (stored in checkpoints)."""
        return {k: (list(map(dict, v)) if k == "stages" else (list(v) if isinstance(v, list) else v))
                for k, v in self.config.items()}

    # ------------------------------------------------------------ properties
    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_choices(self) -> np.ndarray:
        return np.array([len(layer.candidates) for layer in self.layers], dtype=np.int64)

    @property
    def size(self) -> int:
        return int(np.prod(self.num_choices, dtype=object))

    @property
    def final_channels(self) -> int:
        return self.layers[-1].out_channels

    @property
    def final_size(self) -> int:
        return self.layers[-1].out_size

    def op(self, layer: int, choice: int) -> OpSpec:
        return self.layers[layer].candidates[choice]

    def fingerprint(self) -> str:
        """Stable short hash of the space definition."""
        import hashlib
        import json

        blob = json.dumps(self.to_config(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_config() == other.to_config()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, layers={self.num_layers}, size={self.size})"

    # ---------------------------------------------------------------- archs
    def validate(self, arch: Sequence[int]) -> Arch:
        """Return ``arch`` as an :class:`Arch`, or raise naming the bad layer."""
        if len(arch) != self.num_layers:
            raise UserInputError(
                f"arch {_show(arch)} has {len(arch)} layers, space {self.name!r} has {self.num_layers}"
            )
        for i, (c, n) in enumerate(zip(arch, self.num_choices)):
            if not 0 <= int(c) < n:
                ops = ", ".join(f"{j}={op}" for j, op in enumerate(self.layers[i].candidates))
                raise UserInputError(
                    f"arch {_show(arch)}: layer {i} choice {c} is out of range 0..{n - 1} ({ops})"
                )
        return arch if isinstance(arch, Arch) else Arch(arch)

    def parse(self, arch: "str | Sequence[int]") -> Arch:
        """Parse an arch string like ``"22212220"`` (or a sequence) and validate it."""
        if isinstance(arch, str):
            return self.validate(Arch.from_string(arch))
        if not isinstance(arch, Iterable):  # 22212220 as a number loses leading zeros and letters
            raise UserInputError(f"arch {arch!r} is a {type(arch).__name__}: pass the arch string (one choice "
                                 f"digit per layer, {self.num_layers} layers) or a sequence of choice indices")
        return self.validate(Arch(arch))

    def sample(self, rng: np.random.Generator, n: int | None = None) -> "Arch | list[Arch]":
        """Uniformly random arch(s)."""
        count = 1 if n is None else n
        genomes = rng.integers(0, self.num_choices, size=(count, self.num_layers))
        archs = [Arch(g) for g in genomes]
        return archs[0] if n is None else archs

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Arch]:
        """Every arch in the space (refuses spaces larger than ``limit``)."""
        if self.size > limit:
            raise ValueError(f"space {self.name!r} has {self.size} archs, more than limit={limit} to enumerate")
        for combo in itertools.product(*(range(n) for n in self.num_choices)):
            yield Arch(combo)

    def largest(self) -> Arch:
        from .costs import CostModel

        return CostModel(self).extreme("flops", largest=True)

    def smallest(self) -> Arch:
        from .costs import CostModel

        return CostModel(self).extreme("flops", largest=False)

    # ----------------------------------------------------- canonical form
    def canonical(self, arch: Sequence[int]) -> Arch:
        """Canonical representative of the network ``arch`` builds.

        A no-op at a shape-keeping layer can move to the end of its run of
        shape-keeping layers without changing the network, so inside each such run
        the non-no-op choices keep their order and the no-ops go last.
        """
        arch = self.validate(arch)
        out = list(arch)
        for run in self._noop_runs:
            ops = [self.layers[i].candidates[arch[i]] for i in run]
            kept = [op for op in ops if not op.is_noop_kind]
            if len(kept) == len(ops):
                continue
            for slot, i in enumerate(run):
                layer = self.layers[i]
                op = kept[slot] if slot < len(kept) else None
                out[i] = layer.noop_choice() if op is None else layer.candidates.index(op)
        return Arch(out)

    def canonical_batch(self, genomes: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`canonical` over an ``(n, layers)`` integer array."""
        genomes = np.asarray(genomes, dtype=np.int64).copy()
        for run in self._noop_runs:
            noop = np.array([self.layers[i].noop_choice() for i in run])
            block = genomes[:, run]
            is_noop = block == noop
            # stable sort puts non-no-ops first in their original order
            order = np.argsort(is_noop, axis=1, kind="stable")
            moved = np.take_along_axis(block, order, axis=1)
            noop_now = np.take_along_axis(is_noop, order, axis=1)
            genomes[:, run] = np.where(noop_now, noop, moved)
        return genomes

    @property
    def noop_runs(self) -> list[list[int]]:
        """The runs of layers inside which :meth:`canonical` moves no-ops to the end
        (a layer outside every run keeps its choice in the canonical form)."""
        return [list(run) for run in self._noop_runs]

    @property
    def _noop_runs(self) -> list[list[int]]:
        cached = getattr(self, "_runs_cache", None)
        if cached is None:
            cached = []
            for stage in sorted({layer.stage for layer in self.layers}):
                layers = [layer for layer in self.layers if layer.stage == stage]
                run = [layer.index for layer in layers if layer.noop_choice() is not None]
                # only a contiguous tail of identical layers can swap freely
                tail: list[int] = []
                for layer in reversed(layers):
                    if layer.noop_choice() is None:
                        break
                    if tail and self.layers[tail[-1]].candidates != layer.candidates:
                        break
                    tail.append(layer.index)
                tail.reverse()
                if len(tail) >= 2 and run:
                    cached.append(tail)
            self._runs_cache = cached
        return cached

    def is_canonical(self, arch: Sequence[int]) -> bool:
        return tuple(self.canonical(arch)) == tuple(arch)

    def is_canonical_batch(self, genomes: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`is_canonical`: a bool mask over the rows of ``genomes``."""
        genomes = np.asarray(genomes, dtype=np.int64)
        return (self.canonical_batch(genomes) == genomes).all(axis=1)

    def canonical_archs(self, limit: int = 1_000_000) -> list[Arch]:
        """All distinct networks (one canonical arch each), for small spaces."""
        return [a for a in self.enumerate(limit) if self.is_canonical(a)]


def _show(arch: Sequence[int]) -> str:
    try:
        return f"'{Arch(arch)}'"
    except ValueError:
        return repr(tuple(arch))


@dataclass
class StageConfig:
    """One stage of a space config: ``layers`` searchable layers of ``channels`` outputs."""

    layers: int = 1
    channels: int = 16
    stride: int = 1
    ops: list[str] | None = None  # this stage's candidates (default: the space's ``ops``)
    min_depth: int = 0  # canonical depth floor (NAS-Bench-Macro style identity counting)


@dataclass
class SpaceConfig:
    """What a space is built from (``conf/space/*.yaml``; also the Hydra schema of ``space``)."""

    name: str = "custom"
    input_size: int = 32
    in_channels: int = 3
    num_classes: int = 10
    stem_channels: int = 32
    stem_kernel: int = 3
    stem_stride: int = 1
    head_channels: int = 1280
    head_mix_channels: int = 0  # a 1x1 conv before the head; absent from the config when 0
    activation: str = "relu"
    ops: list[str] = field(default_factory=lambda: ["identity", "mbconv_k3_e3", "mbconv_k5_e6"])
    stages: list[StageConfig] = field(default_factory=list)


_DEFAULTS: dict[str, Any] = {f.name: f.default if f.default is not MISSING else f.default_factory()
                             for f in fields(SpaceConfig) if f.name not in ("name", "stages", "head_mix_channels")}


def _normalise_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Plain dict with defaults filled in and every field checked."""
    raw = _to_plain(config)
    if not isinstance(raw, dict):
        raise TypeError(f"space config must be a mapping, got {type(raw).__name__}")
    allowed = set(_DEFAULTS) | {"name", "stages", "head_mix_channels"}
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"space config: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    c = {**_DEFAULTS, **raw}
    c.setdefault("name", "custom")
    if "stages" not in c or not c["stages"]:
        raise ValueError("space config needs a non-empty 'stages' list (each: layers, channels, stride)")
    stages = []
    for i, st in enumerate(c["stages"]):
        extra = set(st) - {"layers", "channels", "stride", "ops", "min_depth"}
        if extra:
            raise ValueError(f"space config stage {i}: unknown key(s) {sorted(extra)}")
        for key in ("layers", "channels"):
            if key not in st or int(st[key]) < 1:
                raise ValueError(f"space config stage {i}: '{key}' must be an integer >= 1")
        stage = {"layers": int(st["layers"]), "channels": int(st["channels"]),
                 "stride": int(st.get("stride", 1))}
        if stage["stride"] not in (1, 2):
            raise ValueError(f"space config stage {i}: stride must be 1 or 2, got {stage['stride']}")
        if st.get("ops"):
            stage["ops"] = [str(o) for o in st["ops"]]
        if st.get("min_depth"):
            stage["min_depth"] = int(st["min_depth"])
            if not 0 <= stage["min_depth"] <= stage["layers"]:
                raise ValueError(f"space config stage {i}: min_depth must be in 0..layers ({stage['layers']})")
        stages.append(stage)
    c["stages"] = stages
    c["ops"] = [str(o) for o in c["ops"]]
    for key in ("input_size", "in_channels", "num_classes", "stem_channels", "stem_kernel",
                "stem_stride", "head_channels"):
        c[key] = int(c[key])
        if c[key] < 1:
            raise ValueError(f"space config: '{key}' must be >= 1, got {c[key]}")
    # absent when 0, so spaces without a feature mix keep their config and fingerprint
    mix = int(c.pop("head_mix_channels", 0) or 0)
    if mix < 0:
        raise ValueError(f"space config: 'head_mix_channels' must be >= 0, got {mix}")
    if mix:
        c["head_mix_channels"] = mix
    if c["activation"] not in ACTIVATIONS:
        raise ValueError(f"space config: activation {c['activation']!r} not in {ACTIVATIONS}")
    for name in c["ops"] + [o for st in stages for o in st.get("ops", [])]:
        OpSpec.parse(name)
    return c


def _to_plain(obj: Any) -> Any:
    """Plain dicts and lists of a :class:`SpaceConfig`, any mapping or sequence (parsed YAML, a config node)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): _to_plain(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        return [_to_plain(v) for v in obj]
    return obj

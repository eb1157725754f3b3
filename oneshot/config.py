"""Structured config schemas (Hydra ConfigStore): a typo in a key fails at start.

Every app (train, search, pipeline, lut, rank, retrain, export, dnas) composes the same
:class:`OneshotConfig`; ``conf/<app>.yaml`` picks the group defaults. The library's own
dataclasses are the schemas (``space`` is :class:`SpaceConfig`, ``rank`` is
:class:`RankOptions`, ``train`` extends :class:`TrainSettings` ...); a frozen library
dataclass gets a generated mutable twin (:func:`schema_of`), never a hand-written copy.
"""
from __future__ import annotations

import typing
from dataclasses import MISSING as NO_DEFAULT, dataclass, field, fields, make_dataclass
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from .dnas.settings import CostLossSettings, DnasSettings
from .evaluate.rank_options import RankOptions
from .evaluate.supernet_evaluator import EvalSettings
from .latency.lut_settings import LutSettings
from .latency.profile import DeviceProfile
from .space.space import SpaceConfig
from .train.trainer import TrainSettings


def schema_of(cls: type, name: str, extra: "list[tuple[str, Any, Any]]" = ()) -> type:
    """A Hydra schema with ``cls``'s fields (names, types, defaults) plus the app's ``extra`` ones.

    For frozen library dataclasses, which OmegaConf would make read-only (so no override could
    change them); build.py turns the config back into ``cls``.
    """
    hints = typing.get_type_hints(cls)
    specs = []
    for f in fields(cls):
        if f.default is not NO_DEFAULT:
            default = field(default=f.default)
        elif f.default_factory is not NO_DEFAULT:
            default = field(default_factory=f.default_factory)
        else:
            default = field(default=MISSING)
        specs.append((f.name, hints[f.name], default))
    return make_dataclass(name, [*specs, *extra], namespace={"__doc__": f"Hydra schema of :class:`{cls.__name__}`."})


@dataclass
class SupernetSchema:
    sharing: str = "separate"  # separate | elastic
    # few-shot NAS (supernet=few_shot): split on these layers' choices into sub-supernets
    split_layers: Optional[List[int]] = None
    init_from: Optional[str] = None  # the trained one-shot checkpoint every sub-supernet starts from
    steps_per_turn: int = 1  # consecutive optimizer steps of one slice before the next slice's turn
    epochs_per_slice: Optional[float] = None  # run length = K * this (default: train.epochs split across K)


@dataclass
class DataSchema:
    name: str = "digits"  # digits | arrays | cifar10 | imagefolder | synthetic
    path: Optional[str] = None  # arrays: the .npz file
    root: Optional[str] = None  # cifar10 / imagefolder: dataset root
    download: bool = False
    size: Optional[int] = None  # resize to (defaults to the space's input size where needed)
    val_images: Optional[int] = None
    train_images: Optional[int] = None
    test_images: Optional[int] = None
    augment: List[str] = field(default_factory=lambda: ["crop", "flip"])
    seed: int = 0


@dataclass
class SamplerSchema:
    name: str = "uniform"
    seed: Optional[int] = None  # defaults to train.seed
    archs_per_step: Optional[int] = None
    flops_min: Optional[float] = None
    flops_max: Optional[float] = None
    max_tries: Optional[int] = None
    canonical: Optional[bool] = None
    same_batch: Optional[bool] = None
    phases: Optional[List[Any]] = None
    sandwich: Optional[bool] = None
    kd_weight: Optional[float] = None


@dataclass
class TrainSchema(TrainSettings):
    """:class:`~oneshot.train.TrainSettings` plus whether to resume an existing checkpoint and the
    reference-subnet check of supernet training (:mod:`oneshot.evaluate.reference`)."""

    resume: bool = True
    # supernet training: every epoch, BN-recalibrated val accuracy of the smallest/middle/largest arch
    reference_subnets: bool = True
    reference_recal_images: int = 128
    reference_val_images: int = 256


#: ``evaluator.*``: :class:`EvalSettings` plus which evaluator and its cache
EvaluatorSchema = schema_of(EvalSettings, "EvaluatorSchema", [
    ("kind", str, field(default="supernet")),  # supernet | nas_bench_macro (table lookup) | zero_cost
    ("prefix_sharing", bool, field(default=True)),  # a batch of archs as a trie of shared prefixes (same results)
    ("cache", Optional[str], field(default="checkpoints/eval_cache.sqlite")),
    ("table", Optional[str], field(default=None)),  # nas_bench_macro: the json (default ../shared/data/...)
    ("proxy", str, field(default="naswot")),  # zero_cost: synflow | snip | grad_norm | fisher | jacob_cov | naswot | zen
    ("repeat", int, field(default=1)),  # zero_cost zen: Gaussian draws averaged
])


@dataclass
class SearchSchema:
    """What every search has; ``options`` is the algorithm's own options dataclass.

    :func:`search_schemas` makes one schema per registered algorithm
    (``base_search_<name>``) whose ``options`` is typed by that algorithm's dataclass,
    so ``conf/search/<name>.yaml`` and ``search.options.*`` overrides are checked at start.
    """

    algorithm: str = "nsga2"  # a registered name: oneshot.search.algorithm_names()
    seed: int = 0
    objectives: List[str] = field(default_factory=lambda: ["accuracy", "flops"])
    generations: Optional[int] = 50  # iterations of the algorithm (None: until the budget)
    max_evaluations: Optional[int] = None  # budget of distinct accuracy evaluations
    patience: Optional[int] = 10  # stop after this many generations without a new evaluation
    options: Any = None


def search_schemas() -> dict[str, type]:
    """``{"base_search_<name>": SearchSchema with typed options}`` for every registered algorithm."""
    from dataclasses import make_dataclass

    from .search.algorithms import algorithm_names, get_algorithm

    schemas = {}
    for name in algorithm_names():
        options = get_algorithm(name).options
        schemas[f"base_search_{name}"] = make_dataclass(
            f"SearchSchema_{name}", [("options", options, field(default_factory=options))], bases=(SearchSchema,))
    return schemas


@dataclass
class ConstraintSchema:
    flops_max: Optional[float] = None
    params_max: Optional[float] = None
    latency_max: Optional[float] = None  # milliseconds on the device profile


#: ``device.*``: a latency device profile (the LUT's target, not the compute device), plus whether a
#: table whose metadata does not match it may be used anyway (warns)
DeviceSchema = schema_of(DeviceProfile, "DeviceSchema", [("force_lut", bool, field(default=False))])


@dataclass
class RetrainSchema:
    """``oneshot-retrain``: start from the supernet's weights (``checkpoint=``) instead of from scratch."""

    inherit: bool = False


@dataclass
class ExportSchema:
    """``oneshot-export``: which subnet, which files, how they are checked (:mod:`oneshot.search.deploy`)."""

    subnet: Optional[str] = None  # a best_subnet.json written by oneshot-search (instead of arch=)
    formats: List[str] = field(default_factory=lambda: ["state_dict", "pt2", "onnx"])
    recal_images: int = 500
    recal_batch_size: int = 100
    check_images: int = 256
    seed: int = 0
    opset: Optional[int] = None
    tolerance: float = 1e-4


@dataclass
class RuntimeSchema:
    device: str = "auto"  # compute device: auto | cpu | cuda | cuda:N
    threads: Optional[int] = None
    progress: bool = True
    log_level: str = "INFO"
    tune_allocator: bool = True  # glibc: no per-tensor mmap (faster CPU steps, keeps peak memory)
    tensorboard: bool = False  # event files under <out_dir>/tensorboard (rank 0 only)


@dataclass
class OneshotConfig:
    name: str = "supernet"
    checkpoint: Optional[str] = None  # defaults to checkpoints/<name>.pt
    arch: Optional[str] = None  # retrain / export: the arch string
    out_dir: Optional[str] = None  # defaults to Hydra's run dir
    space: SpaceConfig = MISSING
    supernet: SupernetSchema = field(default_factory=SupernetSchema)
    data: DataSchema = MISSING
    sampler: SamplerSchema = field(default_factory=SamplerSchema)
    train: TrainSchema = field(default_factory=TrainSchema)
    evaluator: EvaluatorSchema = field(default_factory=EvaluatorSchema)
    search: SearchSchema = field(default_factory=SearchSchema)
    constraint: ConstraintSchema = field(default_factory=ConstraintSchema)
    device: DeviceSchema = field(default_factory=DeviceSchema)
    runtime: RuntimeSchema = field(default_factory=RuntimeSchema)
    rank: RankOptions = field(default_factory=RankOptions)
    export: ExportSchema = field(default_factory=ExportSchema)
    method: DnasSettings = field(default_factory=DnasSettings)  # oneshot-dnas: the relaxation (conf/method/)
    cost: CostLossSettings = field(default_factory=CostLossSettings)  # oneshot-dnas: the cost loss
    lut: LutSettings = field(default_factory=LutSettings)  # oneshot-lut
    retrain: RetrainSchema = field(default_factory=RetrainSchema)  # oneshot-retrain


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="oneshot_schema", node=OneshotConfig)
    for group, node in [("space", SpaceConfig), ("supernet", SupernetSchema), ("data", DataSchema),
                        ("sampler", SamplerSchema), ("train", TrainSchema), ("evaluator", EvaluatorSchema),
                        ("search", SearchSchema), ("constraint", ConstraintSchema), ("device", DeviceSchema),
                        ("runtime", RuntimeSchema), ("rank", RankOptions), ("export", ExportSchema)]:
        cs.store(group=group, name=f"base_{group}", node=node)
    for name, node in search_schemas().items():
        cs.store(group="search", name=name, node=node)

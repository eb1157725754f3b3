"""Structured config schemas (Hydra ConfigStore): a typo in a key fails at start.

Every app (train, search, pipeline, lut, rank, retrain, export) composes the same
:class:`OneshotConfig`; ``conf/<app>.yaml`` picks the group defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from .dnas.settings import CostLossSettings, DnasSettings
from .train.trainer import TrainSettings


@dataclass
class StageSchema:
    layers: int = MISSING
    channels: int = MISSING
    stride: int = 1
    ops: Optional[List[str]] = None
    min_depth: int = 0


@dataclass
class SpaceSchema:
    name: str = MISSING
    input_size: int = 32
    in_channels: int = 3
    num_classes: int = 10
    stem_channels: int = 32
    stem_kernel: int = 3
    stem_stride: int = 1
    head_channels: int = 1280
    head_mix_channels: int = 0
    activation: str = "relu"
    ops: List[str] = field(default_factory=lambda: ["identity", "mbconv_k3_e3", "mbconv_k5_e6"])
    stages: List[StageSchema] = MISSING


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


@dataclass
class EvaluatorSchema:
    kind: str = "supernet"  # supernet | nas_bench_macro (ground-truth table lookup) | zero_cost
    recal_images: int = 500
    val_images: int = 2000
    batch_size: int = 500
    recal_batch_size: int = 100
    split: str = "val"
    recalibrate: bool = True
    seed: int = 0
    channels_last: bool = True
    prefix_sharing: bool = True  # evaluate a batch of archs as a trie of shared prefixes (identical results)
    cache: Optional[str] = "checkpoints/eval_cache.sqlite"
    table: Optional[str] = None  # nas_bench_macro: path to the json (default ../shared/data/...)
    proxy: str = "naswot"  # zero_cost: synflow | snip | grad_norm | fisher | jacob_cov | naswot | zen
    repeat: int = 1  # zero_cost zen: Gaussian draws averaged


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


@dataclass
class DeviceSchema:
    """A latency device profile (target of the LUT), not the compute device."""

    name: str = "cpu_2t"
    kind: str = "cpu"  # cpu | cuda | external (an imported table of a device we do not own)
    threads: Optional[int] = 2
    batch: int = 1
    lut: Optional[str] = None
    latency_correction: bool = True
    warmup: int = 10
    repeats: int = 100
    max_seconds: float = 5.0
    rounds: int = 5
    omp_wait_policy: Optional[str] = None
    statistic: str = "median"  # median | p25: which column of the table predicts
    force_lut: bool = False  # use a table whose metadata does not match this profile (warns)


@dataclass
class RankSchema:
    """``oneshot-rank``: the sample, the ground truth and the ranking metrics."""

    ground_truth: str = "nas_bench_macro"  # nas_bench_macro | standalone | csv
    ground_truth_path: Optional[str] = None  # csv file | standalone store | NAS-Bench-Macro json
    table_seed: Optional[int] = None  # nas_bench_macro: None = mean_acc, 0..2 = one seed
    arch_column: str = "arch"
    accuracy_column: str = "accuracy"
    sample: str = "space"  # space | ground_truth
    sample_size: Optional[int] = 100
    sample_seed: int = 0
    strata: int = 10
    pool: int = 20000
    top_k: int = 10
    precision_top: float = 0.2
    bootstrap: int = 1000
    confidence: float = 0.95
    plot: bool = True
    zero_cost: List[str] = field(default_factory=lambda: ["synflow", "snip", "grad_norm", "fisher", "jacob_cov",
                                                          "naswot", "zen"])
    zero_cost_batch: int = 64
    zero_cost_seed: int = 0
    fuse: Optional[str] = None
    caps: List[float] = field(default_factory=lambda: [20e6, 30e6, 40e6, 60e6])
    band_low: float = 0.8
    picks: bool = True
    zero_cost_picks: bool = False
    search_picks: bool = False
    pick_budget: int = 300
    pick_seeds: int = 3


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
    space: SpaceSchema = MISSING
    supernet: SupernetSchema = field(default_factory=SupernetSchema)
    data: DataSchema = MISSING
    sampler: SamplerSchema = field(default_factory=SamplerSchema)
    train: TrainSchema = field(default_factory=TrainSchema)
    evaluator: EvaluatorSchema = field(default_factory=EvaluatorSchema)
    search: SearchSchema = field(default_factory=SearchSchema)
    constraint: ConstraintSchema = field(default_factory=ConstraintSchema)
    device: DeviceSchema = field(default_factory=DeviceSchema)
    runtime: RuntimeSchema = field(default_factory=RuntimeSchema)
    rank: RankSchema = field(default_factory=RankSchema)
    export: ExportSchema = field(default_factory=ExportSchema)
    method: DnasSettings = field(default_factory=DnasSettings)  # oneshot-dnas: the relaxation (conf/method/)
    cost: CostLossSettings = field(default_factory=CostLossSettings)  # oneshot-dnas: the cost loss
    extra: Any = None  # free-form app-specific settings (lut, rank)


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="oneshot_schema", node=OneshotConfig)
    for group, node in [("space", SpaceSchema), ("supernet", SupernetSchema), ("data", DataSchema),
                        ("sampler", SamplerSchema), ("train", TrainSchema), ("evaluator", EvaluatorSchema),
                        ("search", SearchSchema), ("constraint", ConstraintSchema), ("device", DeviceSchema),
                        ("runtime", RuntimeSchema), ("rank", RankSchema), ("export", ExportSchema)]:
        cs.store(group=group, name=f"base_{group}", node=node)
    for name, node in search_schemas().items():
        cs.store(group="search", name=name, node=node)

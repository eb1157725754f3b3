"""Structured config schemas (Hydra ConfigStore): a typo in a key fails at start.

Every app (train, search, pipeline, lut, rank, retrain) composes the same
:class:`OneshotConfig`; ``conf/<app>.yaml`` picks the group defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

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
    activation: str = "relu"
    ops: List[str] = field(default_factory=lambda: ["identity", "mbconv_k3_e3", "mbconv_k5_e6"])
    stages: List[StageSchema] = MISSING


@dataclass
class SupernetSchema:
    sharing: str = "separate"  # separate | elastic


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
    """:class:`~oneshot.train.TrainSettings` plus whether to resume an existing checkpoint."""

    resume: bool = True


@dataclass
class EvaluatorSchema:
    kind: str = "supernet"  # supernet | nas_bench_macro (ground-truth table lookup)
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


@dataclass
class SearchSchema:
    algorithm: str = "nsga2"  # nsga2 | random
    pop_size: int = 20
    generations: int = 50
    seed: int = 0
    objectives: List[str] = field(default_factory=lambda: ["accuracy", "flops"])
    max_evaluations: Optional[int] = None  # budget of distinct accuracy evaluations
    crossover: str = "two_point"  # uniform | one_point | two_point
    crossover_prob: float = 0.9
    mutation_prob: Optional[float] = None  # per gene; default 1 / layers
    mutation_at_least_one: bool = True
    patience: int = 10  # stop after this many generations without a new evaluation


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


@dataclass
class RuntimeSchema:
    device: str = "auto"  # compute device: auto | cpu | cuda | cuda:N
    threads: Optional[int] = None
    progress: bool = True
    log_level: str = "INFO"
    tune_allocator: bool = True  # glibc: no per-tensor mmap (faster CPU steps, keeps peak memory)


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
    extra: Any = None  # free-form app-specific settings (lut, rank)


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="oneshot_schema", node=OneshotConfig)
    for group, node in [("space", SpaceSchema), ("supernet", SupernetSchema), ("data", DataSchema),
                        ("sampler", SamplerSchema), ("train", TrainSchema), ("evaluator", EvaluatorSchema),
                        ("search", SearchSchema), ("constraint", ConstraintSchema), ("device", DeviceSchema),
                        ("runtime", RuntimeSchema), ("rank", RankSchema)]:
        cs.store(group=group, name=f"base_{group}", node=node)

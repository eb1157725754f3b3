"""oneshot: two-stage one-shot NAS -- train one weight-sharing supernet, search it under budgets.

The objects a user composes are importable from here (``from oneshot import SearchSpace,
SuperNet, UniformSampler, Trainer, ...``). They load on first access, so ``import oneshot``
stays light and ``import oneshot.space`` stays torch-free.
"""
from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

try:
    __version__: str = metadata.version("oneshot")
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # search space and costs
    **dict.fromkeys(["SearchSpace", "Arch", "CostModel", "load_space", "preset_names"], "oneshot.space"),
    **dict.fromkeys(["SpaceConfig", "StageConfig"], "oneshot.space.space"),
    # supernets
    **dict.fromkeys(["SuperNet", "ElasticSuperNet", "FewShotSuperNet", "SubNet", "build_supernet"],
                    "oneshot.supernet"),
    # samplers
    **dict.fromkeys(["Sampler", "UniformSampler", "UniformConstraintSampler", "FairSampler", "FixedSampler",
                     "build_sampler", "sampler_names"], "oneshot.sampling"),
    "ProgressiveSampler": "oneshot.sampling.progressive",
    "FewShotSampler": "oneshot.sampling.few_shot",
    # training
    **dict.fromkeys(["Trainer", "TrainSettings", "load_checkpoint", "recalibrate_bn"], "oneshot.train"),
    # evaluation
    **dict.fromkeys(["SupernetEvaluator", "EvalSettings", "EvalCache", "load_supernet", "open_supernet",
                     "SupernetCheckpoint"], "oneshot.evaluate"),
    "PrefixSharingEvaluator": "oneshot.evaluate.prefix",
    "NasBenchMacroEvaluator": "oneshot.evaluate.nasbench",
    **dict.fromkeys(["StandaloneTruth", "nas_bench_macro_truth", "csv_truth"], "oneshot.evaluate.ground_truth"),
    "RankOptions": "oneshot.evaluate.rank_options",
    "rank_supernet": "oneshot.workflows.rank",
    # latency
    **dict.fromkeys(["LatencyLUT", "DeviceProfile", "build_lut"], "oneshot.latency"),
    # search
    **dict.fromkeys(["NASProblem", "SearchResult", "run_search", "pareto_front"], "oneshot.search"),
    # data
    **dict.fromkeys(["ImageData", "build_data", "load_digits", "load_cifar10", "load_arrays", "load_imagefolder",
                     "load_synthetic"], "oneshot.data"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'oneshot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

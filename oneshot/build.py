"""Config -> objects: the one place that reads Hydra configs into library calls."""
from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from omegaconf import DictConfig, OmegaConf

from .data import ImageData, build_data
from .errors import UserInputError
from .evaluate import EvalSettings
from .paths import REPO_DIR
from .sampling.base import Sampler
from .sampling.registry import build_sampler, sampler_options
from .space.space import SearchSpace
from .train.trainer import TrainSettings

if TYPE_CHECKING:
    from .dnas.settings import CostLossSettings, DnasSettings
    from .evaluate.base import Evaluator
    from .evaluate.rank_options import RankOptions
    from .latency import DeviceProfile
    from .latency.lut_settings import LutSettings

log = logging.getLogger(__name__)

_DATA_KEYS = {
    "digits": ("size", "val_images", "test_images", "train_images", "seed", "augment"),
    "arrays": ("path", "size", "val_images", "train_images", "test_images", "seed", "augment"),
    "cifar10": ("root", "download", "size", "val_images", "train_images", "test_images", "seed", "augment"),
    "imagefolder": ("root", "size", "val_images", "train_images", "seed", "augment"),
    "synthetic": ("size", "train_images", "val_images", "test_images", "seed", "augment"),
}

_DATA_REQUIRED = {"arrays": "path", "cifar10": "root", "imagefolder": "root"}
_DATA_REQUIRED_WHAT = {"arrays": "file.npz", "cifar10": "folder holding cifar-10-batches-py",
                       "imagefolder": "folder of <class>/<image> files"}


def plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def resolve_path(path: "str | Path") -> Path:
    """A read-only input path as given; a relative one that does not exist here falls back to the
    repo root (the configs' defaults such as ``../shared/data/...`` are written relative to it).
    Never use it for a file that is written: see :func:`output_path`."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    alt = REPO_DIR / p
    return alt if alt.exists() else p


def output_path(path: "str | Path") -> Path:
    """A path the command writes (or reads back what it wrote): as given, relative to the working
    directory, never redirected into the install."""
    return Path(path).expanduser()


def space_from_config(cfg: DictConfig) -> SearchSpace:
    return SearchSpace(plain(cfg.space))


def data_from_config(cfg: DictConfig, space: SearchSpace) -> ImageData:
    d = plain(cfg.data)
    name = d["name"]
    if name not in _DATA_KEYS:
        raise ValueError(f"unknown data.name {name!r}: available {sorted(_DATA_KEYS)}")
    kwargs = {k: d.get(k) for k in _DATA_KEYS[name] if d.get(k) is not None}
    needed = _DATA_REQUIRED.get(name)
    if needed and needed not in kwargs:
        raise UserInputError(f"data={name} needs data.{needed}=<{_DATA_REQUIRED_WHAT[name]}>")
    if name in ("digits", "arrays", "synthetic", "cifar10") and "size" not in kwargs:
        kwargs["size"] = space.input_size
    if name == "synthetic":
        kwargs.setdefault("num_classes", space.num_classes)
        kwargs["channels"] = space.in_channels
    for key in ("path", "root"):
        if key in kwargs:
            kwargs[key] = resolve_path(kwargs[key])
    kwargs["augment"] = tuple(kwargs.get("augment", ()))
    data = build_data(name, **kwargs)
    if data.num_classes != space.num_classes:
        raise ValueError(f"data {name!r} has {data.num_classes} classes but space {space.name!r} has "
                         f"{space.num_classes}: override space.num_classes={data.num_classes}")
    if data.image_shape[0] != space.in_channels:
        raise ValueError(f"data {name!r} has {data.image_shape[0]}-channel images, space {space.name!r} expects "
                         f"{space.in_channels}: set space.in_channels")
    return data


def sampler_from_config(cfg: DictConfig, space: SearchSpace, allowed=None) -> Sampler:
    """The configured sampler; ``allowed`` (per layer choices) restricts it to one few-shot slice."""
    opts = {k: v for k, v in plain(cfg.sampler).items() if v is not None and k != "name"}
    opts.setdefault("seed", cfg.train.seed)
    name = cfg.sampler.name
    builder_opts = sampler_options(name)
    unknown = set(opts) - builder_opts if builder_opts is not None else set()
    if unknown:
        raise ValueError(f"sampler {name!r} does not take option(s) {sorted(unknown)}; it takes "
                         f"{sorted(builder_opts)}")
    if allowed is not None:
        if builder_opts is None or "allowed" not in builder_opts:
            raise ValueError(f"sampler={name} cannot be restricted to a few-shot slice: use sampler=uniform "
                             "or sampler=fair with supernet=few_shot")
        opts["allowed"] = allowed
    return build_sampler(name, space, **opts)


#: ``train.*`` keys the train workflow reads itself (not :class:`TrainSettings` fields)
APP_TRAIN_KEYS = ("reference_subnets", "reference_recal_images", "reference_val_images")


def train_settings(cfg: DictConfig) -> TrainSettings:
    t = plain(cfg.train)
    for key in ("resume", *APP_TRAIN_KEYS):
        t.pop(key, None)
    known = {f.name for f in fields(TrainSettings)}
    unknown = sorted(set(t) - known)
    if unknown:  # `+train.<typo>=...` adds a key the schema does not have
        takes = sorted(known | {"resume", *APP_TRAIN_KEYS})
        raise UserInputError(f"unknown setting(s) {', '.join('train.' + k for k in unknown)}: train takes "
                             f"{', '.join(takes)}")
    return TrainSettings(**t)


def device_profile(cfg: DictConfig) -> "tuple[DeviceProfile, bool]":
    """The latency device profile ``cfg.device`` describes, and whether ``device.force_lut`` is set."""
    from .latency import DeviceProfile

    d = plain(cfg.device)
    force = bool(d.pop("force_lut", False))
    return DeviceProfile.from_config(d), force


def _typed(cls: type, node: Any, prefix: str) -> Any:
    """``cls`` from the config group ``node`` (its fields only; unknown keys name themselves)."""
    values = plain(node) or {}
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UserInputError(f"unknown setting(s) {', '.join(prefix + k for k in unknown)}: {prefix.rstrip('.')} "
                             f"takes {', '.join(sorted(names))}")
    return cls(**values)


def eval_settings(cfg: DictConfig) -> EvalSettings:
    """:class:`EvalSettings` from ``evaluator.*`` (which also names the evaluator and its cache)."""
    names = {f.name for f in fields(EvalSettings)}
    return EvalSettings(**{k: v for k, v in plain(cfg.evaluator).items() if k in names})


def rank_options(cfg: DictConfig) -> "RankOptions":
    """``rank.*`` as checked :class:`RankOptions`."""
    from .evaluate.rank_options import RankOptions

    opts = _typed(RankOptions, cfg.rank, "rank.")
    opts.check()
    return opts


def dnas_settings(cfg: DictConfig) -> "tuple[DnasSettings, CostLossSettings]":
    """``method.*`` and ``cost.*`` of oneshot-dnas."""
    from .dnas.settings import CostLossSettings, DnasSettings

    return _typed(DnasSettings, cfg.method, "method."), _typed(CostLossSettings, cfg.cost, "cost.")


def lut_settings(cfg: DictConfig) -> "LutSettings":
    """``lut.*`` (oneshot-lut's action and its inputs) as checked :class:`LutSettings`."""
    from .latency.lut_settings import LutSettings

    settings = _typed(LutSettings, cfg.lut, "lut.")
    settings.check()
    return settings


def evaluator_class(cfg: DictConfig):
    """:class:`PrefixSharingEvaluator` (same results, shared prefixes computed once) unless disabled."""
    from .evaluate.prefix import PrefixSharingEvaluator
    from .evaluate.supernet_evaluator import SupernetEvaluator

    return PrefixSharingEvaluator if cfg.evaluator.prefix_sharing else SupernetEvaluator


def zero_cost_evaluator(cfg: DictConfig, space: SearchSpace, data: ImageData):
    """``evaluator.kind=zero_cost``: :class:`ZeroCostEvaluator` of ``evaluator.proxy`` (no checkpoint)."""
    from .evaluate.zero_cost import ZeroCostEvaluator, ZeroCostSettings

    e = cfg.evaluator
    settings = ZeroCostSettings(proxy=e.proxy, batch_size=e.batch_size, seed=e.seed, split=e.split, repeat=e.repeat)
    return ZeroCostEvaluator(space, data, settings, cache=resolve_path(e.cache) if e.cache else None,
                             device=cfg.runtime.device, progress=cfg.runtime.progress)


def checkpoint_path(cfg: DictConfig) -> Path:
    """``checkpoint=`` as given, else ``checkpoints/<name>.pt`` under the working directory."""
    return Path(cfg.checkpoint).expanduser() if cfg.checkpoint else Path("checkpoints") / f"{cfg.name}.pt"


def evaluator_from_config(cfg: DictConfig) -> "Evaluator":
    """``evaluator.kind=supernet`` (the checkpoint's supernet, read once), ``nas_bench_macro`` (table) or
    ``zero_cost``."""
    kind = cfg.evaluator.kind
    if kind == "nas_bench_macro":
        from .evaluate.nasbench import NasBenchMacroEvaluator
        from .space import load_space

        if space_from_config(cfg) != load_space("nas_bench_macro"):
            raise UserInputError(f"evaluator=nas_bench_macro scores only the nas_bench_macro space, not space="
                                 f"{cfg.space.name} as configured: use space=nas_bench_macro (its defaults), or "
                                 "evaluator=default with a supernet checkpoint of your space")
        return NasBenchMacroEvaluator(resolve_path(cfg.evaluator.table) if cfg.evaluator.table else None)
    if kind == "zero_cost":
        space = space_from_config(cfg)
        return zero_cost_evaluator(cfg, space, data_from_config(cfg, space))
    if kind != "supernet":
        raise ValueError(f"unknown evaluator.kind {kind!r}: use supernet, nas_bench_macro or zero_cost")
    from .evaluate.supernet_evaluator import open_supernet

    space = space_from_config(cfg)
    opened = open_supernet(checkpoint_path(cfg), space)  # checked against the space before the data loads
    data = data_from_config(cfg, space)
    cache = output_path(cfg.evaluator.cache) if cfg.evaluator.cache else None
    return evaluator_class(cfg).from_supernet(opened, data, eval_settings(cfg), cache=cache,
                                              device=cfg.runtime.device, progress=cfg.runtime.progress)


def latency_from_config(cfg: DictConfig, space: SearchSpace) -> "tuple[Callable, dict[str, Any]]":
    """The device profile's LUT as a vectorised ``archs -> ms`` callable, and what it is.

    The second item (logged, and recorded in ``best_subnet.json`` as ``latency_model``)
    names the table and the device profile and says whether the table's affine
    correction (``slope * LUT sum + intercept``) is applied.
    """
    from .latency import LatencyLUT

    profile, force = device_profile(cfg)
    path = output_path(cfg.device.lut) if cfg.device.lut else profile.lut_path()
    lut = LatencyLUT.load(path, profile=profile, space=space, force=force)
    model = lut.model(space, corrected=cfg.device.latency_correction and lut.correction is not None)
    info: dict[str, Any] = {"table": str(path), "device_profile": profile.name, "corrected": bool(model.corrected),
                            "slope": float(model.slope), "intercept": float(model.intercept)}
    if model.corrected:
        info["fitted_on_space"] = lut.metadata.get("correction_space", "")
        log.info("latency: %s (profile %s), corrected = %.4g * LUT sum %+.4g ms (fitted on %s archs of %s; "
                 "device.latency_correction=false turns it off)", path, profile.name, model.slope, model.intercept,
                 lut.metadata.get("correction_n", "?"), info["fitted_on_space"] or "an unnamed space")
    else:
        log.info("latency: %s (profile %s), plain LUT sum (no correction applied)", path, profile.name)
    return model.predict, info

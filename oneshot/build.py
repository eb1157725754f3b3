"""Config -> objects: the one place that reads Hydra configs into library calls."""
from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from .latency import DeviceProfile

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


def refuse_extra(cfg: DictConfig, allowed: "tuple[str, ...]" = ()) -> None:
    """Refuse ``extra.<key>`` settings the app does not read (they would be silently ignored)."""
    extra = plain(cfg.get("extra")) or {}
    unknown = sorted(set(extra) - set(allowed)) if isinstance(extra, dict) else []
    if not unknown:
        return
    moved = {"force": "device.force_lut=true", "force_lut": "device.force_lut=true"}
    hints = [f"extra.{k}: use {moved[k]}" for k in unknown if k in moved]
    raise UserInputError(f"unknown setting(s) {', '.join('extra.' + k for k in unknown)}"
                         + (f" ({'; '.join(hints)})" if hints else "")
                         + (f"; this app reads extra.{', extra.'.join(allowed)}" if allowed else
                            "; this app reads no extra.* settings"))


def eval_settings(cfg: DictConfig) -> EvalSettings:
    e = cfg.evaluator
    return EvalSettings(recal_images=e.recal_images, val_images=e.val_images, batch_size=e.batch_size,
                        recal_batch_size=e.recal_batch_size, split=e.split, seed=e.seed,
                        recalibrate=e.recalibrate, channels_last=e.channels_last)


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

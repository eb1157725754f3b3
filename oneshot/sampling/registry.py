"""Build a sampler from its config name and options."""
from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from typing import Any, Callable

from ..space.space import SearchSpace
from .base import Sampler
from .fair import FairSampler
from .uniform import UniformConstraintSampler, UniformSampler

log = logging.getLogger(__name__)
_LOADED = False
_BUILDERS: dict[str, Callable[..., Sampler]] = {
    "uniform": UniformSampler,
    "uniform_constraint": UniformConstraintSampler,
    "fair": FairSampler,
}


def register_sampler(name: str, builder: Callable[..., Sampler]) -> None:
    """Make ``sampler=<name>`` available (builder takes the space plus config options)."""
    _BUILDERS[name] = builder


def sampler_names() -> list[str]:
    _load_optional()
    return sorted(_BUILDERS)


def _load_optional() -> None:
    """Import every module of this package once, so a sampler module that calls
    :func:`register_sampler` needs no edit here (one whose dependencies are missing is skipped)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for module in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        try:
            importlib.import_module(f"{__package__}.{module.name}")
        except ImportError as e:
            log.debug("sampler module %s not loaded: %s", module.name, e)


def sampler_options(name: str) -> set[str] | None:
    """Option names sampler ``name`` accepts (besides the space); None if unknown or open-ended."""
    _load_optional()
    builder = _BUILDERS.get(name)
    if builder is None:
        return None
    params = inspect.signature(builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return {p for p in params if p != "space"}


def build_sampler(name: str, space: SearchSpace, **options: Any) -> Sampler:
    _load_optional()
    if name not in _BUILDERS:
        raise ValueError(f"unknown sampler {name!r}: available {sorted(_BUILDERS)}")
    try:
        return _BUILDERS[name](space, **options)
    except TypeError as e:
        raise ValueError(f"sampler {name!r}: bad option ({e})") from e

"""Build a sampler from its config name and options."""
from __future__ import annotations

import inspect
from typing import Any, Callable

from ..space.space import SearchSpace
from .base import Sampler
from .fair import FairSampler
from .uniform import UniformConstraintSampler, UniformSampler

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
    try:  # progressive shrinking lives with the elastic supernet
        from . import progressive  # noqa: F401
    except ImportError:
        pass


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

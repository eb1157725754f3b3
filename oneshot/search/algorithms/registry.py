"""The one place search algorithms are registered by name.

An algorithm is a builder ``(problem, options) -> pymoo Algorithm`` plus its options
dataclass; ``conf/search/<name>.yaml`` sets the options (the dataclass is its Hydra
schema, so a typo in ``search.options`` fails at start). Adding an algorithm is its
module (which calls :func:`register`) and its yaml: this package imports every
module in it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pymoo.core.algorithm import Algorithm

Builder = Callable[[Any, Any], Algorithm]


@dataclass(frozen=True)
class AlgorithmSpec:
    """A registered search algorithm: its name, options dataclass and builder."""

    name: str
    options: type
    build: Builder
    summary: str = ""

    def make_options(self, values: "Mapping[str, Any] | Any | None" = None, **overrides: Any) -> Any:
        """An options instance from a mapping (or an instance) plus keyword overrides; unknown keys fail."""
        if values is not None and dataclasses.is_dataclass(values) and not isinstance(values, type):
            values = dataclasses.asdict(values)
        merged = {**dict(values or {}), **overrides}
        known = {f.name for f in dataclasses.fields(self.options)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for search algorithm {self.name!r}; "
                             f"its options are {sorted(known)}")
        return self.options(**merged)


_REGISTRY: dict[str, AlgorithmSpec] = {}


def register(name: str, options: type, summary: str = "") -> Callable[[Builder], Builder]:
    """Decorator: register ``build(problem, options) -> Algorithm`` under ``name``."""
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"options of search algorithm {name!r} must be a dataclass, got {options!r}")

    def decorate(build: Builder) -> Builder:
        if name in _REGISTRY and _REGISTRY[name].build is not build:
            raise ValueError(f"search algorithm {name!r} is registered twice")
        _REGISTRY[name] = AlgorithmSpec(name, options, build, summary)
        return build

    return decorate


def get_algorithm(name: str) -> AlgorithmSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown search algorithm {name!r}; choose one of {algorithm_names()}") from None


def algorithm_names() -> list[str]:
    return sorted(_REGISTRY)

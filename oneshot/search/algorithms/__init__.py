"""Search algorithms, registered by name (see :mod:`.registry`).

Importing this package imports every module in it, so each algorithm's module
registers itself; nothing else lists them.
"""
from __future__ import annotations

import importlib
import pkgutil

from .registry import AlgorithmSpec, algorithm_names, get_algorithm, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["AlgorithmSpec", "algorithm_names", "get_algorithm", "register"]

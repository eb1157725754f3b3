"""Evaluators (the only door to accuracy), their cache, and ranking metrics."""
from .base import EVAL_COLUMNS, Evaluator
from .cache import EvalCache
from .supernet_evaluator import EvalSettings, SupernetCheckpoint, SupernetEvaluator, load_supernet, open_supernet

__all__ = ["EVAL_COLUMNS", "EvalCache", "EvalSettings", "Evaluator", "SupernetCheckpoint", "SupernetEvaluator",
           "load_supernet", "open_supernet"]

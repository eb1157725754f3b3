"""Stage two as a function of a config: evaluator + cost models (:mod:`oneshot.build`) -> pymoo search -> files."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from .. import build, runtime
from ..checks import SEARCH_RULES, check_settings

log = logging.getLogger(__name__)


def needs_latency(cfg: DictConfig) -> bool:
    return cfg.constraint.latency_max is not None or "latency" in cfg.search.objectives


def run_search_from_config(cfg: DictConfig, out_dir: Path):
    """Search under ``cfg.constraint`` and write history/pareto/best files into ``out_dir``."""
    from ..search import NASProblem, export_subnet, get_algorithm, run_search
    from ..search.recorder import best_feasible
    from ..search.tensorboard import SearchTensorBoard

    s = cfg.search
    spec = get_algorithm(s.algorithm)
    values = build.plain(s.options) if s.options is not None else None
    options = spec.make_options(values)  # search.algorithm=x with another algorithm's options fails here
    runtime.set_threads(cfg.runtime.threads)
    check_settings(build.plain(cfg.search), SEARCH_RULES, "search.")  # before the evaluator loads anything
    check_settings(vars(options), SEARCH_RULES, "search.options.")
    evaluator = build.evaluator_from_config(cfg)
    space = evaluator.space
    latency, latency_model = build.latency_from_config(cfg, space) if needs_latency(cfg) else (None, None)
    constraints = {"flops": cfg.constraint.flops_max, "params": cfg.constraint.params_max,
                   "latency": cfg.constraint.latency_max}
    problem = NASProblem(space, evaluator, objectives=list(cfg.search.objectives), constraints=constraints,
                         latency=latency)
    board = SearchTensorBoard(out_dir / "tensorboard") if cfg.runtime.get("tensorboard", False) else None
    try:
        result = run_search(problem, spec, options, seed=s.seed, generations=s.generations,
                            max_evaluations=s.max_evaluations, patience=s.patience, out_dir=out_dir,
                            progress=cfg.runtime.progress, callback=board)
    finally:
        if board is not None:
            board.close()
    best = best_feasible(result.archive, problem.objectives)
    if best is None:
        log.warning("no feasible arch was evaluated; see %s/all_evaluated.csv", out_dir)
        return result
    metrics = {k: float(best[k]) for k in ("accuracy", "flops", "params", "latency") if k in best and best[k] == best[k]}
    extra = {"latency_model": latency_model} if latency_model is not None else {}
    export_subnet(space, str(best["arch"]), out_dir / "best_subnet.json", **metrics, **extra)
    log.info("best feasible arch %s: %s; Pareto set (%d archs) in %s", best["arch"],
             ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()), len(result.pareto), out_dir / "pareto.csv")
    return result

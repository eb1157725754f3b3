"""Stage two as a function of a config: evaluator + cost models -> pymoo search -> files."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from .. import build, runtime
from ..checks import SEARCH_RULES, check_settings
from ..errors import UserInputError
from ..evaluate.base import Evaluator
from ..space.space import SearchSpace

log = logging.getLogger(__name__)


def evaluator_from_config(cfg: DictConfig) -> Evaluator:
    """``evaluator.kind=supernet`` (the checkpoint's supernet) or ``nas_bench_macro`` (table)."""
    kind = cfg.evaluator.kind
    if kind == "nas_bench_macro":
        from ..evaluate.nasbench import NasBenchMacroEvaluator
        from ..space import load_space

        if build.space_from_config(cfg) != load_space("nas_bench_macro"):
            raise UserInputError(f"evaluator=nas_bench_macro scores only the nas_bench_macro space, not space="
                                 f"{cfg.space.name} as configured: use space=nas_bench_macro (its defaults), or "
                                 "evaluator=default with a supernet checkpoint of your space")
        return NasBenchMacroEvaluator(build.resolve_path(cfg.evaluator.table) if cfg.evaluator.table else None)
    if kind != "supernet":
        raise ValueError(f"unknown evaluator.kind {kind!r}: use supernet or nas_bench_macro")
    from ..train.checkpoint import check_space, load_checkpoint

    ckpt = build.checkpoint_path(cfg)
    space = build.space_from_config(cfg)
    check_space(load_checkpoint(ckpt), space, ckpt)  # clear error before the data is loaded
    data = build.data_from_config(cfg, space)
    cache = build.resolve_path(cfg.evaluator.cache) if cfg.evaluator.cache else None
    return build.evaluator_class(cfg).from_checkpoint(ckpt, data, build.eval_settings(cfg), space=space, cache=cache,
                                             device=cfg.runtime.device, progress=cfg.runtime.progress)


def latency_from_config(cfg: DictConfig, space: SearchSpace):
    """The device profile's LUT as a vectorised ``archs -> ms`` callable."""
    from ..latency import LatencyLUT

    profile, force = build.device_profile(cfg)
    path = build.resolve_path(cfg.device.lut) if cfg.device.lut else profile.lut_path()
    lut = LatencyLUT.load(path, profile=profile, space=space, force=force)
    model = lut.model(space, corrected=cfg.device.latency_correction and lut.correction is not None)
    return model.predict


def needs_latency(cfg: DictConfig) -> bool:
    return cfg.constraint.latency_max is not None or "latency" in cfg.search.objectives


def run_search_from_config(cfg: DictConfig, out_dir: Path):
    """Search under ``cfg.constraint`` and write history/pareto/best files into ``out_dir``."""
    from ..search import NASProblem, export_subnet, run_search

    runtime.set_threads(cfg.runtime.threads)
    build.refuse_extra(cfg)
    check_settings(build.plain(cfg.search), SEARCH_RULES, "search.")  # before the evaluator loads anything
    evaluator = evaluator_from_config(cfg)
    space = evaluator.space
    latency = latency_from_config(cfg, space) if needs_latency(cfg) else None
    constraints = {"flops": cfg.constraint.flops_max, "params": cfg.constraint.params_max,
                   "latency": cfg.constraint.latency_max}
    problem = NASProblem(space, evaluator, objectives=list(cfg.search.objectives), constraints=constraints,
                         latency=latency)
    s = cfg.search
    result = run_search(problem, s.algorithm, pop_size=s.pop_size, generations=s.generations, seed=s.seed,
                        max_evaluations=s.max_evaluations, out_dir=out_dir, progress=cfg.runtime.progress,
                        crossover=s.crossover, crossover_prob=s.crossover_prob, mutation_prob_var=s.mutation_prob,
                        mutation_at_least_one=s.mutation_at_least_one, patience=s.patience)
    best = result.best
    if best is None:
        log.warning("no feasible arch was evaluated; see %s/all_evaluated.csv", out_dir)
        return result
    metrics = {k: float(best[k]) for k in ("accuracy", "flops", "params", "latency") if k in best and best[k] == best[k]}
    export_subnet(space, str(best["arch"]), out_dir / "best_subnet.json", **metrics)
    log.info("best feasible arch %s: %s; Pareto set (%d archs) in %s", best["arch"],
             ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()), len(result.pareto), out_dir / "pareto.csv")
    return result

"""Stage two as a function of a config: evaluator + cost models -> pymoo search -> files."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from .. import build, runtime
from ..checks import SEARCH_RULES, check_settings
from ..errors import UserInputError
from ..evaluate.base import Evaluator
from ..space.space import SearchSpace

log = logging.getLogger(__name__)


def evaluator_from_config(cfg: DictConfig) -> Evaluator:
    """``evaluator.kind=supernet`` (the checkpoint's supernet), ``nas_bench_macro`` (table) or ``zero_cost``."""
    kind = cfg.evaluator.kind
    if kind == "nas_bench_macro":
        from ..evaluate.nasbench import NasBenchMacroEvaluator
        from ..space import load_space

        if build.space_from_config(cfg) != load_space("nas_bench_macro"):
            raise UserInputError(f"evaluator=nas_bench_macro scores only the nas_bench_macro space, not space="
                                 f"{cfg.space.name} as configured: use space=nas_bench_macro (its defaults), or "
                                 "evaluator=default with a supernet checkpoint of your space")
        return NasBenchMacroEvaluator(build.resolve_path(cfg.evaluator.table) if cfg.evaluator.table else None)
    if kind == "zero_cost":
        space = build.space_from_config(cfg)
        return build.zero_cost_evaluator(cfg, space, build.data_from_config(cfg, space))
    if kind != "supernet":
        raise ValueError(f"unknown evaluator.kind {kind!r}: use supernet, nas_bench_macro or zero_cost")
    from ..train.checkpoint import check_space, load_checkpoint

    ckpt = build.checkpoint_path(cfg)
    space = build.space_from_config(cfg)
    check_space(load_checkpoint(ckpt), space, ckpt)  # clear error before the data is loaded
    data = build.data_from_config(cfg, space)
    cache = build.output_path(cfg.evaluator.cache) if cfg.evaluator.cache else None
    return build.evaluator_class(cfg).from_checkpoint(ckpt, data, build.eval_settings(cfg), space=space, cache=cache,
                                             device=cfg.runtime.device, progress=cfg.runtime.progress)


def latency_from_config(cfg: DictConfig, space: SearchSpace) -> tuple[Callable, dict[str, Any]]:
    """The device profile's LUT as a vectorised ``archs -> ms`` callable, and what it is.

    The second item (logged, and recorded in ``best_subnet.json`` as ``latency_model``)
    names the table and the device profile and says whether the table's affine
    correction (``slope * LUT sum + intercept``) is applied.
    """
    from ..latency import LatencyLUT

    profile, force = build.device_profile(cfg)
    path = build.output_path(cfg.device.lut) if cfg.device.lut else profile.lut_path()
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


def needs_latency(cfg: DictConfig) -> bool:
    return cfg.constraint.latency_max is not None or "latency" in cfg.search.objectives


def run_search_from_config(cfg: DictConfig, out_dir: Path):
    """Search under ``cfg.constraint`` and write history/pareto/best files into ``out_dir``."""
    from ..search import NASProblem, export_subnet, get_algorithm, run_search
    from ..search.recorder import best_feasible
    from ..search.tensorboard import SearchTensorBoard

    s = cfg.search
    spec = get_algorithm(s.algorithm)
    values = OmegaConf.to_container(s.options, resolve=True) if s.options is not None else None
    options = spec.make_options(values)  # search.algorithm=x with another algorithm's options fails here
    runtime.set_threads(cfg.runtime.threads)
    build.refuse_extra(cfg)
    check_settings(build.plain(cfg.search), SEARCH_RULES, "search.")  # before the evaluator loads anything
    check_settings(vars(options), SEARCH_RULES, "search.options.")
    evaluator = evaluator_from_config(cfg)
    space = evaluator.space
    latency, latency_model = latency_from_config(cfg, space) if needs_latency(cfg) else (None, None)
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

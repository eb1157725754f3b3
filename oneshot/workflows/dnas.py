"""Differentiable search as a function of a config: supernet + alpha trained together by the one
Trainer (:class:`~oneshot.dnas.DnasStrategy`), then the derived arch as ``best_subnet.json``."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .. import build, runtime
from ..dnas import CostLoss, CostLossSettings, DnasStrategy, arch_split, flops_table, latency_table
from ..dnas.cost import CostTable
from ..dnas.report import AlphaTrajectory
from ..errors import UserInputError
from ..space.space import SearchSpace
from ..supernet import SuperNet
from ..train.distributed import DistContext, process_group, rank_device
from ..train.trainer import Trainer
from .init_from import check_same_start, one_shot_start

log = logging.getLogger(__name__)


def check_searchable(space: SearchSpace) -> None:
    single = [i for i, n in enumerate(space.num_choices) if n < 2]
    if single:
        raise UserInputError(f"space {space.name!r} has single-choice layer(s) {single}: differentiable search needs "
                             "at least two candidates per layer (give those layers more ops, or fix them in the stem)")


def cost_table(cfg: DictConfig, space: SearchSpace, settings: CostLossSettings) -> tuple[CostTable | None, dict]:
    """The cost table ``cost.metric`` names (the device profile's LUT for latency), and what it is."""
    if settings.metric == "none":
        return None, {}
    if settings.metric == "flops":
        return flops_table(space), {"metric": "flops"}
    from ..latency import LatencyLUT
    from ..latency.table import measure_command

    profile, force = build.device_profile(cfg)
    path = build.output_path(cfg.device.lut) if cfg.device.lut else profile.lut_path()
    if not path.is_file():
        raise UserInputError(f"cost.metric=latency needs the latency table of device profile {profile.name!r}, "
                             f"not found at {path}: build it with `{measure_command(profile.name, space.name)}` "
                             "(or use cost.metric=flops)")
    lut = LatencyLUT.load(path, profile=profile, space=space, force=force)
    model = lut.model(space, corrected=cfg.device.latency_correction and lut.correction is not None)
    return latency_table(model), {"metric": "latency", "table": str(path), "device_profile": profile.name,
                                  "corrected": bool(model.corrected)}


def run_dnas(cfg: DictConfig, out_dir: Path) -> Path:
    """Search (or resume searching) and write ``best_subnet.json``, ``alpha.csv`` / ``alpha.png``,
    ``metrics.csv`` into ``out_dir``; returns the path of ``best_subnet.json``."""
    runtime.set_threads(cfg.runtime.threads)
    with process_group(cfg.runtime.device) as ctx:
        return _run(cfg, out_dir, ctx)


def _run(cfg: DictConfig, out_dir: Path, ctx: DistContext) -> Path:
    if cfg.supernet.sharing != "separate":
        raise UserInputError(f"oneshot-dnas searches a separate-weights supernet, not supernet={cfg.supernet.sharing}: "
                             "use supernet=separate")
    space = build.space_from_config(cfg)
    check_searchable(space)
    settings = build.train_settings(cfg)
    method, cost_settings = build.dnas_settings(cfg)
    table, cost_info = cost_table(cfg, space, cost_settings)
    strategy_seed = method.seed if method.seed is not None else settings.seed
    uniform = DnasStrategy.uniform_probs(space)
    cost = CostLoss(cost_settings, table, uniform)  # bad target: fails before the data loads
    ckpt = build.checkpoint_path(cfg)
    one_shot, start = one_shot_start(cfg.supernet.get("init_from"), space, ckpt)
    data = build.data_from_config(cfg, space)
    weight_data, alpha_data = arch_split(data, method.arch_fraction, strategy_seed)
    runtime.seed_everything(settings.seed)
    strategy = DnasStrategy(space, method, cost, alpha_data, seed=settings.seed)
    model = SuperNet(space)
    if one_shot is not None:  # stage one's supernet is the weight-only warm-up
        model.load_state_dict(one_shot)
        log.info("weights start from %s (method.warmup_epochs=%g more)", start["init_from"], method.warmup_epochs)
    extra = {"space": space.to_config(), "supernet": {"sharing": "separate", **start}, "kind": "dnas",
             "config": OmegaConf.to_container(cfg, resolve=True)}
    from .train import training_callbacks

    callbacks = [AlphaTrajectory(space, out_dir), *training_callbacks(cfg, space, out_dir, ctx)]
    trainer = Trainer(model, strategy, weight_data, settings, checkpoint_path=ckpt,
                      metrics_path=out_dir / "metrics.csv", device=rank_device(ctx, cfg.runtime.device),
                      extra_state=extra, progress=cfg.runtime.progress, dist=ctx, callbacks=callbacks)
    if cfg.train.resume and ckpt.exists():
        from ..train.checkpoint import check_space, load_checkpoint

        state = load_checkpoint(ckpt)
        check_space(state, space, ckpt)
        check_same_start(state, start, ckpt)
        trainer.resume()
    elif ckpt.exists():
        log.warning("overwriting %s (train.resume=false)", ckpt)
    trainer.fit()
    if trainer.batch % trainer.steps_per_epoch:  # stopped mid-epoch (train.max_steps): record where alpha is
        strategy.record(round(trainer.batch / trainer.steps_per_epoch, 3))
    if ctx.is_main:
        AlphaTrajectory(space, out_dir).write(strategy.trajectory)
    return export_derived(cfg, space, trainer, strategy, data, cost_info, out_dir / "best_subnet.json", ctx)


def export_derived(cfg: DictConfig, space: SearchSpace, trainer: Trainer, strategy: DnasStrategy, data,
                   cost_info: dict, path: Path, ctx: DistContext) -> Path:
    """The derived arch with its BN-recalibrated supernet accuracy on the search's val split,
    written like ``oneshot-search`` writes its pick (``oneshot-retrain`` / ``oneshot-export`` read it)."""
    from ..evaluate.supernet_evaluator import SupernetEvaluator
    from ..search import export_subnet

    arch = strategy.derived_arch()
    metrics: dict[str, Any] = {}
    evaluator = SupernetEvaluator(trainer.model, space, data, build.eval_settings(cfg), device=trainer.device,
                                  progress=False)
    metrics["accuracy"] = float(evaluator.evaluate([arch])["accuracy"].iloc[0])
    table = strategy.cost.table
    if table is not None and table.metric == "latency":
        metrics["latency"] = table.of(arch)
        metrics["latency_model"] = {k: v for k, v in cost_info.items() if k != "metric"}
    probs = strategy.trajectory[-1]["probs"] if strategy.trajectory else None
    metrics["dnas"] = {"method": strategy.name, "cost": cost_info.get("metric", "none"),
                       "cost_target": strategy.cost.target, "epochs": len(strategy.trajectory) - 1,
                       "alpha_steps": strategy.arch_steps, "final_probs": probs}
    if ctx.is_main:
        export_subnet(space, str(arch), path, **metrics)
    log.info("derived arch %s (%s): accuracy %.2f%% (supernet, BN recalibrated)%s; alpha trajectory in %s",
             arch, strategy.name, metrics["accuracy"],
             f", latency {metrics['latency']:.3f} ms" if "latency" in metrics else "", path.parent / "alpha.csv")
    return path

"""Stage one as a function of a config: build everything, train, checkpoint."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .. import build, runtime
from ..supernet import SubNet, build_supernet
from ..sampling.uniform import FixedSampler
from ..space.space import SearchSpace
from ..train.distributed import DistContext, process_group, rank_device
from ..train.trainer import Trainer
from .few_shot import check_resumable, few_shot_setup, is_few_shot
from .init_from import check_same_start, one_shot_start

log = logging.getLogger(__name__)


def train_supernet(cfg: DictConfig, out_dir: Path) -> Path:
    """Train (or resume) the supernet ``cfg`` describes; returns the checkpoint path."""
    runtime.set_threads(cfg.runtime.threads)
    # torchrun: join the process group (gloo / nccl); barrier + teardown when done
    with process_group(cfg.runtime.device) as ctx:
        return _train_supernet(cfg, out_dir, ctx)


def _train_supernet(cfg: DictConfig, out_dir: Path, ctx: DistContext) -> Path:
    space = build.space_from_config(cfg)
    settings = build.train_settings(cfg)  # bad settings fail before the data is loaded
    sampler = build.sampler_from_config(cfg, space)
    data = build.data_from_config(cfg, space)
    runtime.seed_everything(settings.seed)
    ckpt = build.checkpoint_path(cfg)
    spec = {"sharing": cfg.supernet.sharing}
    if is_few_shot(cfg):  # K sub-supernets from a one-shot checkpoint, a sampler per slice
        model, sampler, spec = few_shot_setup(cfg, space, ckpt)
    else:
        model = build_supernet(space, cfg.supernet.sharing)
        if cfg.supernet.get("init_from") and cfg.supernet.sharing != "separate":
            raise ValueError("supernet.init_from starts a separate-weights supernet, not "
                             f"supernet={cfg.supernet.sharing}: use supernet=separate")
        one_shot, start = one_shot_start(cfg.supernet.get("init_from"), space, ckpt)
        if one_shot is not None:  # continue training a one-shot supernet under this run's settings
            model.load_state_dict(one_shot)
            spec.update(start)
    extra = {"space": space.to_config(), "supernet": spec,
             "config": OmegaConf.to_container(cfg, resolve=True), "kind": "supernet"}
    trainer = Trainer(model, sampler, data, settings, checkpoint_path=ckpt, metrics_path=out_dir / "metrics.csv",
                      device=rank_device(ctx, cfg.runtime.device), extra_state=extra,
                      progress=cfg.runtime.progress, dist=ctx,
                      callbacks=training_callbacks(cfg, space, out_dir, ctx))
    if cfg.train.resume and ckpt.exists():
        from ..train.checkpoint import check_space, load_checkpoint

        state = load_checkpoint(ckpt)
        check_space(state, space, ckpt)
        if is_few_shot(cfg):
            check_resumable(state, spec, ckpt)
        else:
            check_same_start(state, spec, ckpt)
        trainer.resume()
    elif ckpt.exists():
        log.warning("overwriting %s (train.resume=false)", ckpt)
    history = trainer.fit()
    log.info("supernet checkpoint: %s (%d steps, %d epochs logged)", ckpt, trainer.step, len(history))
    return ckpt


def training_callbacks(cfg: DictConfig, space: SearchSpace, out_dir: Path, ctx: DistContext) -> list:
    """Reference-subnet validation (every rank: it is a collective under torchrun), then TensorBoard
    (rank 0), in this order so the event file gets the reference accuracies."""
    callbacks: list = []
    if cfg.train.reference_subnets:
        from ..evaluate.reference import ReferenceSubnets

        callbacks.append(ReferenceSubnets(space, recal_images=cfg.train.reference_recal_images,
                                          val_images=cfg.train.reference_val_images, seed=cfg.evaluator.seed))
    if cfg.runtime.tensorboard and ctx.is_main:
        from ..train.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(out_dir / "tensorboard"))
        log.info("TensorBoard: tensorboard --logdir %s", out_dir / "tensorboard")
    return callbacks


def train_standalone(cfg: DictConfig, out_dir: Path, arch: str, inherit: Path | None = None) -> Path:
    """Train one arch stand-alone from scratch (or fine-tune weights inherited from a supernet)."""
    runtime.set_threads(cfg.runtime.threads)
    settings = build.train_settings(cfg)
    if inherit is not None:
        from ..evaluate.supernet_evaluator import load_supernet

        supernet, space, _ = load_supernet(inherit)
        model = supernet.extract(space.parse(arch))
    else:
        space = build.space_from_config(cfg)
        model = SubNet.build(space, space.parse(arch))
    parsed = space.parse(arch)
    data = build.data_from_config(cfg, space)
    runtime.seed_everything(settings.seed)
    ckpt = out_dir / f"standalone_{parsed}.pt"
    extra = {"space": space.to_config(), "arch": str(parsed), "kind": "standalone",
             "inherited_from": str(inherit) if inherit else None,
             "config": OmegaConf.to_container(cfg, resolve=True)}
    trainer = Trainer(model, FixedSampler(space, parsed, settings.seed), data, settings, checkpoint_path=ckpt,
                      metrics_path=out_dir / "metrics.csv", device=cfg.runtime.device, extra_state=extra,
                      progress=cfg.runtime.progress)
    if cfg.train.resume:
        trainer.resume()
    trainer.fit()
    return ckpt

"""Progressive shrinking (Once-for-All): phases, sandwich, lr, KD teacher, re-sort, resume, errors."""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from oneshot.data import load_synthetic
from oneshot.sampling import build_sampler
from oneshot.sampling.progressive import ProgressiveSampler, ofa_phases
from oneshot.space import SearchSpace
from oneshot.supernet import ElasticSuperNet, SuperNet, allowed_mask, largest_arch, smallest_arch
from oneshot.train import Trainer, TrainSettings, load_checkpoint

OPS = [f"mbconv_k{k}_e{e}" for k in (3, 5) for e in (2, 3)] + ["skip"]
SPACE = dict(name="tiny_elastic", input_size=16, stem_channels=8, head_channels=32, num_classes=4,
             activation="hswish", ops=OPS,
             stages=[dict(layers=2, channels=8, stride=1, min_depth=1),
                     dict(layers=2, channels=16, stride=2, min_depth=1)])
PHASES = [{"name": "largest", "dims": [], "epochs": 1, "lr": 0.1},
          {"name": "kernel", "dims": ["kernel"], "epochs": 1, "lr": 0.05},
          {"name": "depth", "dims": ["kernel", "depth"], "epochs": 1},
          {"name": "expand", "dims": ["kernel", "depth", "expand"], "epochs": 1, "lr": 0.02}]
SPE = 4  # 64 training images / batch 16: 4 steps per phase, expand starts at step 12



@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace(SPACE)


@pytest.fixture(scope="module")
def data():
    return load_synthetic(size=16, num_classes=4, train_images=64, val_images=16, test_images=16)


def sampler(space, **kw) -> ProgressiveSampler:
    s = ProgressiveSampler(space, **{"phases": PHASES, **kw})
    s.configure(steps_per_epoch=SPE, total_batches=4 * SPE, base_lr=0.07)
    return s


def _trainer(space, data, path, max_steps=None, **kw) -> Trainer:
    torch.manual_seed(0)
    s = TrainSettings(epochs=99, batch_size=16, lr=0.07, max_steps=max_steps, seed=0)
    t = Trainer(ElasticSuperNet(space), ProgressiveSampler(space, phases=PHASES, seed=0, **kw), data, s,
                checkpoint_path=path, device="cpu", progress=False)
    return t


def test_phase_boundaries_and_allowed_choices(space):
    s = sampler(space)
    assert s.total_epochs == 4
    assert [s.phase_at(k).name for k in (0, 3, 4, 7, 8, 11, 12, 15, 99)] == \
        ["largest", "largest", "kernel", "kernel", "depth", "depth", "expand", "expand", "expand"]
    assert s.phase_span(2) == (8, 12)
    assert s.describe(5) == {"sampler": "progressive", "phase": "kernel", "phase_progress": 0.5}
    for i, phase in enumerate(s.phases):
        mask = allowed_mask(space, phase.dims)
        seen = np.zeros_like(mask)
        for step in range(*s.phase_span(i)):
            for _ in range(25):  # more draws of the same phase: other seeds
                s.seed += 1
                for arch in s.step_archs(step):
                    assert mask[np.arange(len(arch)), list(arch)].all()
                    assert space.is_canonical(arch)
                    seen[np.arange(len(arch)), list(arch)] = True
        assert (seen == mask).all(), phase.name  # every allowed choice turns up
    assert s.step_archs(0) == [largest_arch(space)]


def test_archs_are_a_function_of_seed_and_step(space):
    a, b = sampler(space, seed=3), sampler(space, seed=3)
    assert [a.step_archs(k) for k in range(16)] == [b.step_archs(k) for k in reversed(range(16))][::-1]


def test_sandwich_contents(space):
    s = sampler(space, sandwich=True)
    assert s.step_archs(1) == [largest_arch(space)]  # full-network phase: one arch
    for step, dims in [(5, ["kernel"]), (9, ["kernel", "depth"]), (13, ["kernel", "depth", "expand"])]:
        archs = s.step_archs(step)
        assert len(archs) == 4
        assert archs[0] == largest_arch(space) and archs[1] == smallest_arch(space, dims)
        mask = allowed_mask(space, dims)
        assert all(mask[np.arange(len(a)), list(a)].all() for a in archs[2:])
    assert len(sampler(space, sandwich=True, archs_per_step=0).step_archs(13)) == 2
    phases = [dict(p) for p in PHASES]
    phases[1]["archs_per_step"] = 3
    assert len(sampler(space, phases=phases).step_archs(5)) == 3


def test_lr_schedule_per_phase(space):
    s = sampler(space)
    starts = {0: 0.1, 4: 0.05, 8: 0.07, 12: 0.02}  # depth has no lr: train.lr (base_lr)
    for start, lr0 in starts.items():
        lrs = [s.lr_at(k, k) for k in range(start, start + SPE)]
        assert lrs[0] == pytest.approx(lr0)
        assert lrs[2] == pytest.approx(0.5 * lr0 * (1 + math.cos(math.pi * 2 / SPE)))
        assert all(x > y > 0 for x, y in zip(lrs, lrs[1:]))


def test_teacher_only_after_the_first_phase(space):
    s = sampler(space, kd_weight=0.5)
    assert [s.teacher(k) for k in range(4)] == [None] * 4
    assert all(s.teacher(k) == (largest_arch(space), 0.5) for k in range(4, 16))
    assert sampler(space, kd_weight=0).teacher(10) is None


def test_trainer_takes_the_schedule_and_describes_phases(space, data, tmp_path):
    t = _trainer(space, data, tmp_path / "a.pt")
    assert t.total_batches == 16  # phases, not train.epochs=99
    t.fit()
    m = pd.DataFrame(t.history)
    assert list(m.phase) == ["largest", "kernel", "depth", "expand"]
    assert list(m.lr.round(6)) == [round(t.sampler.lr_at(k), 6) for k in (3, 7, 11, 15)]
    assert np.isfinite(m.train_loss).all()


@pytest.fixture(scope="module")
def full_run(space, data, tmp_path_factory):
    t = _trainer(space, data, tmp_path_factory.mktemp("full") / "full.pt", sandwich=True)
    t.fit()
    return {k: v.clone() for k, v in t.model.state_dict().items()}


@pytest.mark.parametrize("cut", [6, 12, 13])  # mid-kernel; at the re-sort (done after resume); just after it
def test_resume_mid_phase_gives_identical_weights(space, data, tmp_path, full_run, cut):
    half = _trainer(space, data, tmp_path / "half.pt", max_steps=cut, sandwich=True)
    half.fit()
    assert half.step == cut
    resumed = _trainer(space, data, tmp_path / "half.pt", sandwich=True)
    assert resumed.resume()
    assert resumed.sampler.phase_index(resumed.step) == cut // SPE
    resumed.fit()
    assert resumed.step == 16
    for k, v in resumed.model.state_dict().items():
        torch.testing.assert_close(v, full_run[k], atol=0, rtol=0, msg=k)


def test_resort_keeps_largest_function_and_momentum(space):
    torch.manual_seed(1)
    net = ElasticSuperNet(space)
    big = largest_arch(space)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 4, (8,))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def sgd_step(model, optimizer):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x, big), y).backward()
        optimizer.step()

    for _ in range(3):  # non-trivial weights and momentum
        sgd_step(net, opt)
    plain_net = copy.deepcopy(net)
    plain_opt = torch.optim.SGD(plain_net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    plain_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    stale_net = copy.deepcopy(net)
    stale_opt = torch.optim.SGD(stale_net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    stale_opt.load_state_dict(copy.deepcopy(opt.state_dict()))

    s = sampler(space)
    s.before_step(12, net, opt)  # first step of the expand phase: re-sort + permute momentum
    stale_net.reorder_channels_by_importance(0)  # re-sort without touching momentum
    net.eval(), plain_net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x, big), plain_net(x, big), atol=1e-5, rtol=1e-5)
    assert not torch.equal(net.layers[0].project_conv.weight, plain_net.layers[0].project_conv.weight)
    s.before_step(13, net, opt)  # not a phase start: no second re-sort
    net.train(), plain_net.train(), stale_net.train()
    sgd_step(net, opt), sgd_step(plain_net, plain_opt), sgd_step(stale_net, stale_opt)  # training continues
    for m in (net, plain_net, stale_net):
        m.eval()
    with torch.no_grad():
        ref = plain_net(x, big)
        torch.testing.assert_close(net(x, big), ref, atol=1e-5, rtol=1e-5)  # same trajectory
    # same permutation as net, but stale momentum: its weights drift from the right trajectory
    drift = max(float((a.expand_conv.weight - b.expand_conv.weight).detach().abs().max())
                for a, b in zip(stale_net.layers, net.layers))
    assert drift > 5e-5, drift  # fp noise is ~1e-7


def test_bad_input_fails_at_construction(space):
    def err(match, **kw):
        with pytest.raises(ValueError, match=match):
            ProgressiveSampler(space, **kw)

    err("non-empty list of phases", phases=[])
    err("non-empty list of phases", phases=None)
    err(r"unknown key\(s\) \['epoch'\]", phases=[{"name": "a", "dims": [], "epoch": 1}])
    err("no 'epochs'", phases=[{"name": "a", "dims": []}])
    err("epochs must be a positive number", phases=[{"name": "a", "dims": [], "epochs": 0}])
    err("epochs must be a positive number", phases=[{"name": "a", "dims": [], "epochs": -1}])
    err("lr must be a positive", phases=[{"dims": [], "epochs": 1, "lr": 0}])
    err("unknown elastic dimension", phases=[{"dims": ["width"], "epochs": 1}])
    err("kd_weight must be >= 0", phases=PHASES, kd_weight=-1)
    err("archs_per_step", phases=PHASES, archs_per_step=0)
    no_depth = SearchSpace({**SPACE, "ops": OPS[:-1], "stages": [
        {k: v for k, v in st.items() if k != "min_depth"} for st in SPACE["stages"]]})
    with pytest.raises(ValueError, match=r"phase 2 \('depth'\).*no elastic 'depth'.*skip"):
        ProgressiveSampler(no_depth, phases=PHASES)
    macro = SearchSpace({**SPACE, "ops": ["identity", "mbconv_k3_e3", "mbconv_k5_e6"], "stages": [
        {"layers": 2, "channels": 8, "stride": 1}]})
    with pytest.raises(ValueError, match=r"needs an elastic space.*\['identity'\].*sampler=uniform"):
        ProgressiveSampler(macro, phases=[{"dims": [], "epochs": 1}])
    with pytest.raises(ValueError, match="bad option"):
        build_sampler("progressive", space, phases=PHASES, same_batch=False)
    with pytest.raises(ValueError, match="gets no optimizer step"):
        ProgressiveSampler(space, phases=[{"dims": [], "epochs": 0.1}]).configure(4, 1, 0.1)
    with pytest.raises(RuntimeError, match="configure"):
        ProgressiveSampler(space, phases=PHASES).step_archs(0)
    with pytest.raises(ValueError, match="supernet=elastic"):
        sampler(space).check_model(SuperNet(space))
    other = [dict(p) for p in PHASES]
    other[1]["lr"] = 0.5
    with pytest.raises(ValueError, match="cannot resume.*phases"):
        sampler(space).load_state_dict(sampler(space, phases=other).state_dict())
    assert [p["dims"] for p in ofa_phases(space)] == [[], ["kernel"], ["kernel", "depth"],
                                                      ["kernel", "depth", "expand"]]


def test_oneshot_train_end_to_end(tmp_path):
    from hydra import compose, initialize_config_dir

    from oneshot.config import register_configs
    from oneshot.paths import conf_dir
    from oneshot.workflows.train import train_supernet

    register_configs()
    phases = ("[{name:largest,dims:[],epochs:1},{name:kernel,dims:[kernel],epochs:1,lr:0.03},"
              "{name:depth,dims:[kernel,depth],epochs:1},{name:expand,dims:[kernel,depth,expand],epochs:1}]")
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[
            "space=ofa_like_cifar", "supernet=elastic", "sampler=progressive", "data=digits", "train=tiny",
            "space.input_size=16", "data.train_images=32", "train.batch_size=16", "train.max_steps=null",
            f"sampler.phases={phases}", "runtime.progress=false", "runtime.device=cpu",
            f"checkpoint={tmp_path / 'ck.pt'}"])
    assert cfg.sampler.kd_weight == 1.0 and cfg.sampler.sandwich is False
    ckpt = train_supernet(cfg, tmp_path)
    m = pd.read_csv(tmp_path / "metrics.csv")
    assert list(m.phase) == ["largest", "kernel", "depth", "expand"]  # 2 steps per epoch and phase
    state = load_checkpoint(ckpt)
    assert state["train"]["step"] == 8 and state["sampler"]["name"] == "progressive"


def test_default_config_runs_as_shipped(tmp_path):
    """conf/sampler/progressive.yaml as shipped builds, and its schedule is train=quick's length."""
    from hydra import compose, initialize_config_dir

    from oneshot.build import sampler_from_config, space_from_config
    from oneshot.config import register_configs
    from oneshot.paths import conf_dir

    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["space=ofa_like_cifar", "supernet=elastic", "sampler=progressive"])
    s = sampler_from_config(cfg, space_from_config(cfg))
    assert [p.name for p in s.phases] == ["largest", "kernel", "depth", "expand"]
    assert s.total_epochs == cfg.train.epochs


def test_resort_permutes_squeeze_excite_momentum_too():
    """Regression: the SE's hidden-channel weights move with the re-sort, so must their momentum
    (the sampler once permuted only the expand/depthwise/project state)."""
    se_space = SearchSpace({**SPACE, "ops": [op.replace("mbconv", "mbconv_se") for op in OPS[:-1]] + ["skip"]})
    torch.manual_seed(2)
    net = ElasticSuperNet(se_space)
    big = largest_arch(se_space)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 4, (8,))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

    def sgd_step(model, optimizer):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x, big), y).backward()
        optimizer.step()

    for _ in range(3):
        sgd_step(net, opt)
    plain_net = copy.deepcopy(net)
    plain_opt = torch.optim.SGD(plain_net.parameters(), lr=0.05, momentum=0.9)
    plain_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    perms = copy.deepcopy(net).reorder_channels_by_importance(0)  # the permutation the re-sort applies
    s = ProgressiveSampler(se_space, phases=PHASES)
    s.configure(steps_per_epoch=SPE, total_batches=4 * SPE, base_lr=0.07)
    s.before_step(12, net, opt)
    sgd_step(net, opt), sgd_step(plain_net, plain_opt)
    for block, plain, perm in zip(net.layers, plain_net.layers, perms):
        if perm is None:
            continue
        assert not torch.equal(perm, torch.arange(len(perm)))
        for got, want in [(block.se.reduce.weight, plain.se.reduce.weight[:, perm]),
                          (block.se.expand.weight, plain.se.expand.weight[perm]),
                          (block.se.expand.bias, plain.se.expand.bias[perm])]:
            torch.testing.assert_close(got, want, atol=1e-6, rtol=0)  # same trajectory, permuted

"""Prefix-shared evaluation equals the one-by-one path (recalibrate whole path, then eval)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from oneshot.evaluate import EvalSettings, SupernetEvaluator
from oneshot.evaluate.prefix import (PrefixSharingEvaluator, _chunks, build_trie, evaluate_prefix_shared,
                                     path_bytes_per_image, supports_prefix_sharing)
from oneshot.space import SearchSpace
from oneshot.supernet import ElasticSuperNet, SuperNet

SETTINGS = EvalSettings(recal_images=96, val_images=64, batch_size=32, recal_batch_size=32)
ELASTIC_OPS = [f"mbconv_k{k}_e{e}" for k in (3, 5) for e in (2, 3)] + ["skip"]


def perturbed(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights (init zeroes residual BNs, which would hide errors in deep layers)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return net



@pytest.fixture
def supernet(tiny_space):
    torch.manual_seed(0)
    return perturbed(SuperNet(tiny_space))


@pytest.fixture
def evaluator(supernet, tiny_space, tiny_data):
    return SupernetEvaluator(supernet, tiny_space, tiny_data, SETTINGS, device="cpu", progress=False)


def one_by_one(ev: SupernetEvaluator, archs) -> dict[str, tuple[float, float]]:
    return {str(a): ev._measure(a) for a in dict.fromkeys(archs)}


def assert_same(ref: dict, got: dict) -> None:
    assert set(ref) == set(got)
    for k in ref:
        assert got[k][0] == ref[k][0], k  # accuracy: exactly
        assert abs(got[k][1] - ref[k][1]) <= 1e-5, k


def random_archs(space: SearchSpace, n: int, seed: int = 0):
    return [space.canonical(a) for a in space.sample(np.random.default_rng(seed), n)]


def long_prefix_archs(space: SearchSpace, seed: int = 1):
    """Families sharing all but the last one or two layers, plus duplicates."""
    rng = np.random.default_rng(seed)
    out = []
    for base in space.sample(rng, 3):
        for tail in space.sample(rng, 4):
            out.append(space.canonical((*base[:-2], *tail[-2:])))
            out.append(space.canonical((*base[:-1], tail[-1])))
    return out + out[:5]


@pytest.mark.parametrize("budget", [None, 1], ids=["one-pass", "chunked-per-batch"])
def test_random_and_shared_prefix_archs_match_one_by_one(evaluator, supernet, tiny_space, budget):
    archs = random_archs(tiny_space, 12) + long_prefix_archs(tiny_space)
    ref = one_by_one(evaluator, archs)
    kwargs = {} if budget is None else {"memory_budget": budget}
    run = evaluate_prefix_shared(supernet, archs, evaluator._recal, evaluator._val, **kwargs)
    assert_same(ref, run.results)
    assert run.passes == (1 if budget is None else len(evaluator._recal) + len(evaluator._val))


def test_elastic_supernet_matches_one_by_one(tiny_data):
    space = SearchSpace(dict(name="tiny_elastic", input_size=16, stem_channels=8, head_channels=32, num_classes=4,
                             activation="hswish", ops=ELASTIC_OPS,
                             stages=[dict(layers=3, channels=8, stride=1, min_depth=1),
                                     dict(layers=2, channels=16, stride=2, min_depth=1)]))
    torch.manual_seed(0)
    net = perturbed(ElasticSuperNet(space))
    ev = SupernetEvaluator(net, space, tiny_data, SETTINGS, device="cpu", progress=False)
    archs = random_archs(space, 10) + long_prefix_archs(space)
    ref = one_by_one(ev, archs)
    assert_same(ref, evaluate_prefix_shared(net, archs, ev._recal, ev._val).results)
    assert_same(ref, evaluate_prefix_shared(net, archs, ev._recal, ev._val, memory_budget=1).results)


def test_without_recalibration_matches(supernet, tiny_space, tiny_data):
    ev = SupernetEvaluator(supernet, tiny_space, tiny_data, EvalSettings(**{**SETTINGS.__dict__, "recalibrate": False}),
                           device="cpu", progress=False)
    archs = random_archs(tiny_space, 8)
    ref = one_by_one(ev, archs)
    assert_same(ref, evaluate_prefix_shared(supernet, archs, ev._recal, ev._val, recalibrate=False).results)


def test_stem_runs_once_per_batch_and_calls_drop(evaluator, supernet, tiny_space):
    archs = list(dict.fromkeys(long_prefix_archs(tiny_space)))
    batches = len(evaluator._recal) + len(evaluator._val)
    counts = {"stem": 0, "all": 0}

    def count(name):
        def hook(module, inputs, output):
            counts[name] += 1
        return hook

    handles = [supernet.stem.register_forward_hook(count("stem"))]
    handles += [m.register_forward_hook(count("all"))
                for m in [supernet.stem, supernet.head, *(op for ops in supernet.layers for op in ops)]]
    try:
        one_by_one(evaluator, archs)
        ref = dict(counts)
        counts.update(stem=0, all=0)
        run = evaluate_prefix_shared(supernet, archs, evaluator._recal, evaluator._val)
    finally:
        for h in handles:
            h.remove()
    assert ref["stem"] == len(archs) * batches
    assert counts["stem"] == batches
    assert counts["all"] == run.module_calls == run.nodes * batches
    # 24 archs share 3 bases: far fewer calls than stem + layers + head per arch
    assert counts["all"] < 0.5 * ref["all"]
    _, nodes = build_trie(supernet, archs)
    assert nodes == run.nodes < len(archs) * (tiny_space.num_layers + 2)


def test_evaluator_gives_same_frame_and_shares_the_cache(supernet, tiny_space, tiny_data, tmp_path):
    cache = tmp_path / "c.sqlite"
    # "12201" and "12210" are one network; duplicates and equivalents are computed once
    archs = [tiny_space.parse(a) for a in ["12201", "12210", "22222", "22221", "22222", "00000"]]
    archs += random_archs(tiny_space, 6, seed=3)
    fast = PrefixSharingEvaluator(supernet, tiny_space, tiny_data, SETTINGS, cache=cache, device="cpu",
                                  progress=False)
    df = fast.evaluate(archs)
    base = SupernetEvaluator(supernet, tiny_space, tiny_data, SETTINGS, device="cpu", progress=False)
    ref = base.evaluate(archs)
    assert list(df.arch) == list(ref.arch) and list(df.cached) == list(ref.cached)
    assert list(df.accuracy) == list(ref.accuracy)
    assert np.allclose(df.loss, ref.loss, rtol=0, atol=1e-5)
    assert fast.stats["computed"] == base.stats["computed"] == len(set(df.arch))
    assert fast.last_run is not None and fast.last_run.nodes < len(set(df.arch)) * (tiny_space.num_layers + 2)
    # same cache keys: the base evaluator reads what the prefix evaluator wrote
    cached = SupernetEvaluator(supernet, tiny_space, tiny_data, SETTINGS, cache=cache, device="cpu",
                               progress=False).evaluate(archs)
    assert cached.cached.all() and list(cached.accuracy) == list(ref.accuracy)


def test_model_without_per_layer_calls_falls_back_to_one_by_one(tiny_space, tiny_data):
    class Custom(SuperNet):
        def forward(self, x, arch):
            return super().forward(x, arch)

    torch.manual_seed(0)
    net = perturbed(Custom(tiny_space))
    assert not supports_prefix_sharing(net) and supports_prefix_sharing(SuperNet(tiny_space))
    ev = PrefixSharingEvaluator(net, tiny_space, tiny_data, SETTINGS, device="cpu", progress=False)
    archs = random_archs(tiny_space, 4)
    ref = one_by_one(ev, archs)
    df = ev.evaluate(archs)
    assert ev.last_run is None
    assert_same(ref, {a: (acc, loss) for a, acc, loss in zip(df.arch, df.accuracy, df.loss)})
    with pytest.raises(TypeError, match="per-layer calls"):
        evaluate_prefix_shared(net, archs, ev._recal, ev._val)


def test_chunks_keep_order_and_budget(tiny_space):
    recal = [torch.zeros(3, 3, 16, 16) for _ in range(4)]
    val = [(torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long)) for _ in range(3)]
    per_image = path_bytes_per_image(SuperNet(tiny_space), recal[0])
    assert per_image == 4 * (8 * 16 * 16 + 2 * 16 * 8 * 8 + 3 * 24 * 4 * 4)
    assert len(_chunks(recal, val, per_image, 10**12)) == 1
    plan = _chunks(recal, val, per_image, 6 * per_image)  # two recal batches per pass, then val
    assert [(len(r), len(v)) for r, v in plan] == [(2, 0), (2, 0), (0, 3)]
    assert [x for r, _ in plan for x in r] == recal
    assert len(_chunks(recal, val, per_image, 1)) == 7  # at least one batch per pass


def test_channels_last_on_cpu_is_an_option(supernet, tiny_space, tiny_data):
    archs = random_archs(tiny_space, 4, seed=5)
    ref = PrefixSharingEvaluator(supernet, tiny_space, tiny_data, replace(SETTINGS, channels_last=False),
                                 device="cpu", progress=False)
    ref_df = ref.evaluate(archs)
    ev = PrefixSharingEvaluator(supernet, tiny_space, tiny_data, replace(SETTINGS, channels_last=True),
                                device="cpu", progress=False)
    assert ev.channels_last and ev._val[0][0].is_contiguous(memory_format=torch.channels_last)
    df = ev.evaluate(archs)
    assert np.allclose(df.loss, ref_df.loss, rtol=0, atol=1e-4)
    assert np.abs(df.accuracy - ref_df.accuracy).max() <= 100 / len(tiny_data.val)  # at most one image flips


def test_few_shot_supernet_routes_each_arch_and_shares_prefixes_per_sub_supernet(tiny_space, tiny_data, tmp_path):
    from oneshot.supernet.few_shot import FewShotSuperNet

    torch.manual_seed(0)
    few = FewShotSuperNet(tiny_space, [1])
    for k, sub in enumerate(few.subnets):
        perturbed(sub, seed=k)  # the sub-supernets' weights differ
    archs = random_archs(tiny_space, 12) + long_prefix_archs(tiny_space)
    fast = PrefixSharingEvaluator(few, tiny_space, tiny_data, SETTINGS, cache=tmp_path / "c.sqlite", device="cpu",
                                  progress=False)
    df = fast.evaluate(archs)
    ref = one_by_one(fast, archs)  # forward(x, arch) routes: recalibrate and evaluate one arch at a time
    assert_same(ref, {a: (acc, loss) for a, acc, loss in zip(df.arch, df.accuracy, df.loss)})
    # each arch's number is its own sub-supernet's, computed alone
    for k, sub in enumerate(few.subnets):
        mine = [a for a in dict.fromkeys(df.arch) if few.split.route(tiny_space.parse(a)) == k]
        assert mine
        alone = SupernetEvaluator(sub, tiny_space, tiny_data, SETTINGS, device="cpu", progress=False)
        assert_same({a: alone._measure(tiny_space.parse(a)) for a in mine},
                    {a: ref[a] for a in mine})
    # one trie per sub-supernet: no node is shared across them
    groups = {}
    for a in dict.fromkeys(df.arch):
        groups.setdefault(few.split.route(tiny_space.parse(a)), []).append(tiny_space.parse(a))
    tries = sum(build_trie(few.subnets[k], g)[1] for k, g in groups.items())
    assert fast.last_run.nodes == tries
    assert fast.evaluate(archs).cached.all()

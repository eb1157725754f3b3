"""Few-shot split: canonical routing, initialisation from one-shot weights, per-slice
training, resume and checkpoint round trip."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from oneshot.evaluate import load_supernet
from oneshot.sampling import FairSampler, UniformSampler
from oneshot.sampling.few_shot import FewShotSampler
from oneshot.space import SearchSpace
from oneshot.supernet import SuperNet
from oneshot.supernet.few_shot import FewShotSuperNet, SupernetSplit, route_archs, supernet_from_spec
from oneshot.train import Trainer, TrainSettings, load_checkpoint

MACRO = {"name": "nas_bench_macro", "head_channels": 1280, "ops": ["identity", "mbconv_k3_e3", "mbconv_k5_e6"],
         "stages": [{"layers": 2, "channels": 64, "stride": 2}, {"layers": 3, "channels": 128, "stride": 2},
                    {"layers": 3, "channels": 256, "stride": 2}]}


def all_genomes(space: SearchSpace) -> np.ndarray:
    return np.array(list(itertools.product(*(range(n) for n in space.num_choices))), dtype=np.int64)


@pytest.mark.parametrize("layers", [[0], [1], [3], [4], [3, 4], [6, 7], [1, 3], [2, 3, 4], [5, 6, 7]])
def test_every_arch_routes_to_exactly_one_slice_and_equivalent_archs_to_the_same(layers):
    space = SearchSpace(MACRO)
    split = SupernetSplit(space, layers)
    genomes = all_genomes(space)
    routes = split.route_batch(genomes)
    assert (routes >= 0).all() and (routes < len(split)).all()
    canon = space.canonical_batch(genomes)
    assert np.array_equal(split.route_batch(canon), routes)  # equivalent archs: one sub-supernet
    for g in genomes[::53]:  # the scalar route agrees with the vectorised one
        assert split.route(g) == split.route_batch(g[None])[0]
    for k in range(len(split)):
        allowed = split.allowed(k)
        product = np.array(list(itertools.product(*allowed)))
        assert (split.route_batch(product) == k).all()  # what the samplers draw stays in the slice
        mine = canon[routes == k]
        inside = np.all([np.isin(mine[:, i], allowed[i]) for i in range(space.num_layers)], axis=0)
        assert inside.all()  # ... and covers every canonical arch of the slice
        assert len(mine) > 0
    # every canonical network is in exactly one slice: the slices partition them
    assert sum(int((routes[space.is_canonical_batch(genomes)] == k).sum()) for k in range(len(split))) == 3969


def test_a_noop_followed_by_an_op_in_one_run_is_not_a_slice():
    space = SearchSpace(MACRO)
    split = SupernetSplit(space, [3, 4])  # a run of two shape-keeping layers
    assert len(split) == 7  # 3 x 3 minus (identity, op) x 2
    assert (0, 1) not in split.slices and (0, 2) not in split.slices
    k = split.slices.index((0, 0))
    assert split.allowed(k)[3] == (0,) and split.allowed(k)[4] == (0,)
    k = split.slices.index((1, 2))
    assert split.allowed(k)[3] == (1,) and split.allowed(k)[4] == (2,)
    # layer 3 = identity only when layer 4 is one too, in the canonical form
    assert split.route([2, 2, 2, 0, 1, 2, 2, 2]) == split.slices.index((1, 0))


def test_a_layer_outside_every_run_splits_into_one_slice_per_choice():
    space = SearchSpace(MACRO)
    split = SupernetSplit(space, [1])
    assert split.slices == ((0,), (1,), (2,))
    assert split.allowed(0)[1] == (0,) and split.allowed(0)[0] == (0, 1, 2)
    assert split.describe(2) == "layer1=mbconv_k5_e6"


@pytest.mark.parametrize("layers, message", [([], "at least one split layer"), ([9], "out of range"),
                                             ([1, 1], "repeat a layer")])
def test_bad_split_layers_are_refused(layers, message):
    with pytest.raises(ValueError, match=message):
        SupernetSplit(SearchSpace(MACRO), layers)


def test_initialisation_copies_the_one_shot_weights(tiny_space):
    torch.manual_seed(0)
    one_shot = SuperNet(tiny_space)
    with torch.no_grad():
        for p in one_shot.parameters():
            p.add_(0.1 * torch.randn_like(p))
    few = FewShotSuperNet(tiny_space, [1])
    few.load_one_shot(one_shot.state_dict())
    for sub in few.subnets:
        for key, value in one_shot.state_dict().items():
            assert torch.equal(sub.state_dict()[key], value), key
    one_shot.eval(), few.eval()
    x = torch.randn(4, 3, 16, 16)
    for arch in [(0, 0, 1, 2, 0), (1, 1, 1, 1, 1), (2, 2, 0, 0, 0)]:
        assert torch.equal(few(x, arch), one_shot(x, arch))


def _slice_samplers(space, split, kind="uniform"):
    make = (lambda a: UniformSampler(space, seed=0, allowed=a)) if kind == "uniform" else \
        (lambda a: FairSampler(space, seed=0, allowed=a))
    return [make(split.allowed(k)) for k in range(len(split))]


def _trainer(space, data, path, kind="uniform", steps_per_turn=1, **settings):
    torch.manual_seed(0)
    model = FewShotSuperNet(space, [1])
    sampler = FewShotSampler(_slice_samplers(space, model.split, kind), model.split.to_dict(), steps_per_turn)
    s = TrainSettings(**{"epochs": 2, "batch_size": 32, "lr": 0.05, **settings})
    return Trainer(model, sampler, data, s, checkpoint_path=path, device="cpu", progress=False,
                   extra_state={"space": space.to_config(), "supernet": model.spec(), "kind": "supernet"})


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_training_one_slice_leaves_the_other_sub_supernets_unchanged(tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path / "ck.pt", steps_per_turn=100, max_steps=3)
    before = _weights(t.model)
    t.fit()
    after = _weights(t.model)
    changed = {k.split(".")[1] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"0"}  # only sub-supernet 0 (slice layer1=identity) moved
    # ... and inside it only the slice's choice at the split layer
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("subnets.0.layers.1.1.",
                                                                                 "subnets.0.layers.1.2.")))


@pytest.mark.parametrize("kind", ["uniform", "fair"])
def test_resume_reproduces_an_uninterrupted_run_bit_for_bit(tiny_space, tiny_data, tmp_path, kind):
    full = _trainer(tiny_space, tiny_data, tmp_path / "full.pt", kind)
    initial = _weights(full.model)
    full.fit()
    half = _trainer(tiny_space, tiny_data, tmp_path / "half.pt", kind, max_steps=full.step // 2)
    half.fit()
    resumed = _trainer(tiny_space, tiny_data, tmp_path / "half.pt", kind)
    assert resumed.resume()
    resumed.fit()
    assert resumed.step == full.step
    a, b = _weights(full.model), _weights(resumed.model)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0, msg=k)
    trained = {k.split(".")[1] for k in a if not torch.equal(a[k], initial[k])}
    assert trained == {"0", "1", "2"}  # round robin reached every sub-supernet


def test_checkpoint_round_trip_rebuilds_the_split_with_its_weights(tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path / "ck.pt", max_steps=3)
    t.fit()
    model, space, state = load_supernet(tmp_path / "ck.pt")
    assert isinstance(model, FewShotSuperNet) and space == tiny_space
    assert state["supernet"]["split_layers"] == [1] and state["sampler"]["name"] == "few_shot"
    for k, v in t.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert load_checkpoint(tmp_path / "ck.pt")["model"].keys() == t.model.state_dict().keys()


def test_a_spec_whose_slices_differ_is_refused(tiny_space):
    with pytest.raises(ValueError, match="slices"):
        supernet_from_spec(tiny_space, {"sharing": "separate", "split_layers": [1], "slices": [[0], [1]]})
    assert isinstance(supernet_from_spec(tiny_space, {"sharing": "separate"}), SuperNet)


def test_extract_and_route_archs_use_the_owning_sub_supernet(tiny_space):
    few = FewShotSuperNet(tiny_space, [1])
    with torch.no_grad():
        for k, sub in enumerate(few.subnets):
            for p in sub.parameters():
                p.add_(0.05 * (k + 1))
    few.eval()
    x = torch.randn(2, 3, 16, 16)
    arch = (2, 1, 0, 1, 2)
    assert torch.equal(few.extract(arch).eval()(x), few.subnets[1](x, arch))
    groups = route_archs(few, [(0, 2, 0, 0, 0), (0, 0, 1, 1, 1), (1, 2, 1, 1, 1)])
    owners = [next(k for k, sub in enumerate(few.subnets) if sub is m) for m, _ in groups]
    assert owners == [0, 2] and [len(a) for _, a in groups] == [1, 2]

"""Samplers restricted to a few-shot slice, and the round-robin schedule over slices."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.sampling import FairSampler, UniformSampler
from oneshot.sampling.few_shot import FewShotSampler
from oneshot.space import SearchSpace
from oneshot.supernet.few_shot import SupernetSplit

MACRO = {"name": "nas_bench_macro", "head_channels": 64, "ops": ["identity", "mbconv_k3_e3", "mbconv_k5_e6"],
         "stages": [{"layers": 2, "channels": 16, "stride": 2}, {"layers": 3, "channels": 24, "stride": 2},
                    {"layers": 3, "channels": 32, "stride": 2}]}


@pytest.fixture
def space():
    return SearchSpace(MACRO)


@pytest.mark.parametrize("canonical", [False, True])
def test_uniform_draws_stay_in_their_slice_and_cover_it(space, canonical):
    split = SupernetSplit(space, [3, 4])
    for k in range(len(split)):
        sampler = UniformSampler(space, seed=0, archs_per_step=8, canonical=canonical, allowed=split.allowed(k))
        archs = np.array([a for step in range(40) for a in sampler.step_archs(step)])
        assert (split.route_batch(archs) == k).all()
        if canonical:
            assert space.is_canonical_batch(archs).all()
        for i, choices in enumerate(split.allowed(k)):
            assert set(archs[:, i]) == set(choices)  # every allowed choice of every layer is drawn


def test_uniform_without_allowed_draws_what_it_always_drew(space):
    rng_archs = space.sample(np.random.default_rng([0, 5, 0]), 3)
    assert UniformSampler(space, seed=0, archs_per_step=3).step_archs(5) == rng_archs


def test_fair_is_strictly_fair_inside_a_slice(space):
    split = SupernetSplit(space, [3])
    k = split.slices.index((0,))  # layer 3 identity: layer 4 must be identity too
    sampler = FairSampler(space, seed=0, allowed=split.allowed(k))
    assert sampler.m == 3
    for step in range(5):
        archs = np.array(sampler.step_archs(step))
        assert len(archs) == 3 and (split.route_batch(archs) == k).all()
        for i, choices in enumerate(split.allowed(k)):
            counts = {c: int((archs[:, i] == c).sum()) for c in choices}
            assert set(archs[:, i]) == set(choices)
            if 3 % len(choices) == 0:  # every allowed choice trained equally often in the step
                assert len(set(counts.values())) == 1
        assert (archs[:, 3] == 0).all() and (archs[:, 4] == 0).all()


def test_fair_inside_a_slice_with_two_allowed_choices_differs_by_at_most_one(space):
    split = SupernetSplit(space, [4])
    k = split.slices.index((1,))  # layer 4 = mbconv_k3_e3: layer 3 must be an op (2 choices)
    assert split.allowed(k)[3] == (1, 2)
    sampler = FairSampler(space, seed=1, allowed=split.allowed(k))
    for step in range(10):
        col = np.array(sampler.step_archs(step))[:, 3]
        counts = [int((col == c).sum()) for c in (1, 2)]
        assert sorted(counts) == [1, 2]


def test_bad_allowed_choices_are_refused(space):
    with pytest.raises(ValueError, match="layer 0: allowed choices"):
        UniformSampler(space, allowed=[()] + [(0,)] * 7)
    with pytest.raises(ValueError, match="for 2 layers"):
        FairSampler(space, allowed=[(0,), (1,)])


def _few_shot(space, steps_per_turn=1, epochs_per_slice=None, kind=UniformSampler):
    split = SupernetSplit(space, [1])
    samplers = [kind(space, seed=0, allowed=split.allowed(k)) for k in range(len(split))]
    return split, FewShotSampler(samplers, split.to_dict(), steps_per_turn, epochs_per_slice)


def test_slices_take_turns(space):
    split, sampler = _few_shot(space)
    assert [sampler.slice_at(s) for s in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    for step in range(9):
        assert split.route_batch(np.array(sampler.step_archs(step)))[0] == step % 3
    _, blocky = _few_shot(space, steps_per_turn=2)
    assert [blocky.slice_at(s) for s in range(7)] == [0, 0, 1, 1, 2, 2, 0]
    assert sampler.describe(4) == {"sampler": "few_shot:uniform", "slice": 1}


def test_epochs_per_slice_sets_the_run_length(space):
    assert _few_shot(space)[1].total_epochs is None  # train.epochs split across the slices
    assert _few_shot(space, epochs_per_slice=2.5)[1].total_epochs == 7.5


def test_same_batch_follows_the_slice_sampler(space):
    assert _few_shot(space)[1].same_batch is True
    assert _few_shot(space, kind=FairSampler)[1].same_batch is False


def test_state_round_trip_and_refusal_of_another_schedule(space):
    _, sampler = _few_shot(space)
    _, same = _few_shot(space)
    same.load_state_dict(sampler.state_dict())
    _, other = _few_shot(space, steps_per_turn=3)
    with pytest.raises(ValueError, match=r"cannot resume the few-shot run.*steps_per_turn"):
        other.load_state_dict(sampler.state_dict())
    with pytest.raises(ValueError, match="not trained as a few-shot split"):
        same.load_state_dict(UniformSampler(space).state_dict())


def test_samplers_with_hooks_are_refused(space):
    class WithTeacher(UniformSampler):
        def teacher(self, step):
            return None

    split = SupernetSplit(space, [1])
    with pytest.raises(ValueError, match="use sampler=uniform or sampler=fair"):
        FewShotSampler([WithTeacher(space) for _ in range(3)], split.to_dict())

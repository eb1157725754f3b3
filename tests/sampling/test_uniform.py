import numpy as np
import pytest

from oneshot.sampling import FixedSampler, UniformConstraintSampler, UniformSampler, build_sampler
from oneshot.space import CostModel, load_space


def test_uniform_is_a_function_of_seed_and_step(tiny_space):
    s1, s2 = UniformSampler(tiny_space, seed=3), UniformSampler(tiny_space, seed=3)
    assert [s1.step_archs(i) for i in range(20)] == [s2.step_archs(i) for i in reversed(range(20))][::-1]
    assert UniformSampler(tiny_space, seed=4).step_archs(0) != s1.step_archs(0) or \
        UniformSampler(tiny_space, seed=4).step_archs(1) != s1.step_archs(1)


def test_uniform_covers_choices_evenly(tiny_space):
    s = UniformSampler(tiny_space, seed=0)
    archs = np.array([s.step_archs(i)[0] for i in range(3000)])
    for layer in range(tiny_space.num_layers):
        counts = np.bincount(archs[:, layer], minlength=3)
        assert counts.min() > 850


def test_uniform_constraint_stays_inside_range():
    space = load_space("nas_bench_macro")
    s = UniformConstraintSampler(space, flops_min=30e6, flops_max=50e6, seed=0)
    flops = CostModel(space).flops([s.step_archs(i)[0] for i in range(200)])
    assert flops.min() >= 30e6 and flops.max() <= 50e6


def test_uniform_constraint_empty_range_names_space_bounds():
    space = load_space("nas_bench_macro")
    with pytest.raises(ValueError, match=r"7\.713e\+06 to 1\.057e\+08"):
        UniformConstraintSampler(space, flops_max=1e6)


def test_state_dict_round_trip(tiny_space):
    s = UniformSampler(tiny_space, seed=7)
    t = UniformSampler(tiny_space, seed=0)
    t.load_state_dict(s.state_dict())
    assert t.step_archs(5) == s.step_archs(5)
    with pytest.raises(ValueError, match="sampler state is for 'uniform'"):
        FixedSampler(tiny_space, (0,) * 5).load_state_dict(s.state_dict())


def test_unknown_sampler_name(tiny_space):
    with pytest.raises(ValueError, match="unknown sampler 'unifrom'"):
        build_sampler("unifrom", tiny_space)


def test_canonical_uniform_is_uniform_over_distinct_networks():
    space = load_space("nas_bench_macro")
    s = UniformSampler(space, seed=0, canonical=True, archs_per_step=50)
    archs = [a for i in range(200) for a in s.step_archs(i)]
    assert all(space.is_canonical(a) for a in archs)
    networks = space.canonical_archs()
    counts = np.bincount([networks.index(a) for a in archs], minlength=len(networks))
    # 10,000 draws over 3,969 networks: a Poisson(2.52) count per network, so no network
    # should be drawn more than ~12 times, and about e^-2.52 = 8 % never
    assert counts.max() <= 12
    assert 0.05 < (counts == 0).mean() < 0.11
    # plain uniform strings put more mass on shallow networks than uniform over networks does
    depth = lambda batch: np.mean([sum(c != 0 for c in a) for a in batch])  # noqa: E731 (choice 0: identity)
    plain = [a for i in range(200) for a in UniformSampler(space, seed=0, archs_per_step=50).step_archs(i)]
    exact_networks, exact_strings = depth(networks), depth(list(space.enumerate()))
    assert exact_networks > exact_strings + 0.15
    assert abs(depth(archs) - exact_networks) < 0.05 and abs(depth(plain) - exact_strings) < 0.05


def test_canonical_uniform_gives_up_with_a_clear_error(tiny_space, monkeypatch):
    s = UniformSampler(tiny_space, seed=0, canonical=True, max_tries=64)
    monkeypatch.setattr(tiny_space, "canonical_batch", lambda g: g + 1)  # nothing is canonical
    with pytest.raises(RuntimeError, match="canonical archs in 64 uniform draws.*sampler.canonical=false"):
        s.step_archs(0)

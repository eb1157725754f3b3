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

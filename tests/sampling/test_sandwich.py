import pytest

from oneshot.sampling import build_sampler
from oneshot.sampling.sandwich import SandwichSampler
from oneshot.space import CostModel, load_space


def test_each_step_is_largest_smallest_then_random_distinct_networks():
    space = load_space("nas_bench_macro")
    s = SandwichSampler(space, seed=0, archs_per_step=3)
    costs = CostModel(space)
    flops = costs.flops(space.canonical_archs())
    steps = [s.step_archs(i) for i in range(50)]
    assert all(len(archs) == 5 for archs in steps)
    assert {float(costs.flops([a[0]])[0]) for a in steps} == {flops.max()}
    assert {float(costs.flops([a[1]])[0]) for a in steps} == {flops.min()}
    middle = [a for archs in steps for a in archs[2:]]
    assert all(space.is_canonical(a) for a in middle)
    assert len(set(map(tuple, middle))) > 140  # 150 draws over 3,969 networks: nearly all distinct
    assert SandwichSampler(space, seed=0, archs_per_step=3).step_archs(7) == steps[7]


def test_the_teacher_is_the_largest_arch_unless_distillation_is_off(tiny_space):
    s = SandwichSampler(tiny_space, kd_weight=0.5)
    arch, weight = s.teacher(3)
    assert arch == s.step_archs(3)[0] and weight == 0.5
    assert SandwichSampler(tiny_space, kd_weight=0).teacher(3) is None


@pytest.mark.parametrize("options, message", [
    ({"archs_per_step": -1}, "archs_per_step .* integer >= 0"),
    ({"archs_per_step": 1.5}, "archs_per_step .* integer >= 0"),
    ({"kd_weight": -0.1}, "kd_weight must be >= 0"),
])
def test_bad_options_are_refused(tiny_space, options, message):
    with pytest.raises(ValueError, match=message):
        build_sampler("sandwich", tiny_space, **options)

import numpy as np
import pytest
import torch

from oneshot.sampling import FairSampler
from oneshot.space import SearchSpace, load_space
from oneshot.supernet import SuperNet


@pytest.mark.parametrize("seed", range(5))
def test_every_choice_of_every_layer_once_per_step(seed):
    space = load_space("nas_bench_macro")
    s = FairSampler(space, seed=seed)
    for step in range(50):
        archs = np.array(s.step_archs(step))
        assert archs.shape == (3, 8)
        for layer in range(8):
            assert sorted(archs[:, layer]) == [0, 1, 2]


def test_uneven_layers_counts_within_one():
    space = SearchSpace({"name": "uneven", "ops": ["mbconv_k3_e3", "mbconv_k5_e3", "mbconv_k3_e6", "skip"],
                         "stages": [{"layers": 3, "channels": 8, "stride": 1}]})
    # layer 0 changes channels (no skip): 3 choices; layers 1, 2: 4 choices -> m = 4
    assert list(space.num_choices) == [3, 4, 4]
    s = FairSampler(space, seed=0)
    for step in range(100):
        archs = np.array(s.step_archs(step))
        assert len(archs) == 4
        for layer, n in enumerate(space.num_choices):
            counts = np.bincount(archs[:, layer], minlength=n)
            assert counts.max() - counts.min() <= 1 and counts.min() >= 1


def test_one_choice_layer_is_refused():
    space = SearchSpace({"name": "one", "ops": ["mbconv_k3_e3"], "stages": [{"layers": 1, "channels": 8}]})
    with pytest.raises(ValueError, match="layer 0 has only 'mbconv_k3_e3'"):
        FairSampler(space)


def test_step_gradient_is_sum_of_single_path_gradients(tiny_space, tiny_data):
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    sampler = FairSampler(tiny_space, seed=1, same_batch=True)
    archs = sampler.step_archs(0)
    x, y = tiny_data.train_batch(0, 16, 0)

    net.zero_grad(set_to_none=True)
    for arch in archs:
        torch.nn.functional.cross_entropy(net(x, arch), y).backward()
    summed = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    expected: dict[str, torch.Tensor] = {}
    for arch in archs:
        net.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x, arch), y).backward()
        for n, p in net.named_parameters():
            if p.grad is not None:
                expected[n] = expected.get(n, 0) + p.grad
    assert summed.keys() == expected.keys()
    assert {n.split(".")[2] for n in summed if n.startswith("layers.")} == {"0", "1", "2"}
    for n in summed:
        torch.testing.assert_close(summed[n], expected[n], atol=1e-6, rtol=1e-5)

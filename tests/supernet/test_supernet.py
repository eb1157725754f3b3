import numpy as np
import pytest
import torch

from oneshot.supernet import SubNet, SuperNet


def test_extract_matches_supernet_path(tiny_space):
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    # give BN non-trivial statistics so the test covers them too
    net.train()
    for arch in tiny_space.sample(np.random.default_rng(0), 4):
        net(torch.randn(8, 3, 16, 16), arch)
    net.eval()
    x = torch.randn(5, 3, 16, 16)
    for arch in tiny_space.sample(np.random.default_rng(1), 6):
        sub = net.extract(arch).eval()
        torch.testing.assert_close(sub(x), net(x, arch), atol=1e-5, rtol=0)


def test_forward_holds_no_state_between_calls(tiny_space):
    net = SuperNet(tiny_space).eval()
    x = torch.randn(2, 3, 16, 16)
    a, b = tiny_space.parse("12012"), tiny_space.parse("21120")
    ya, yb = net(x, a), net(x, b)
    torch.testing.assert_close(net(x, a), ya)
    torch.testing.assert_close(net(x, b), yb)


def test_unsampled_ops_get_no_grad_and_do_not_move(tiny_space):
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 4, (4,))
    # step 1 trains every op of layer 1 at least once, building momentum buffers
    for arch in ["11111", "12222", "10111"]:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x, tiny_space.parse(arch)), y).backward()
        opt.step()
    before = {k: v.clone() for k, v in net.layers[1][1].state_dict().items()}
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(net(x, tiny_space.parse("12222")), y).backward()
    assert all(p.grad is None for p in net.layers[1][1].parameters())
    opt.step()
    after = net.layers[1][1].state_dict()
    for k in before:
        torch.testing.assert_close(after[k], before[k], atol=0, rtol=0)


def test_subnet_build_and_arch_check(tiny_space):
    arch = tiny_space.parse("22222")
    sub = SubNet.build(tiny_space, arch)
    assert sub(torch.randn(1, 3, 16, 16)).shape == (1, 4)
    with pytest.raises(ValueError, match="asked to run arch"):
        sub(torch.randn(1, 3, 16, 16), tiny_space.parse("11111"))


def test_wrong_arch_length_is_a_clear_error(tiny_space):
    net = SuperNet(tiny_space)
    with pytest.raises(ValueError, match="has 3 layers"):
        net(torch.randn(1, 3, 16, 16), (1, 1, 1))

import torch

from oneshot.supernet import SuperNet
from oneshot.train import recalibrate_bn


def test_first_bn_running_mean_equals_mean_of_its_inputs(tiny_space, tiny_data):
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    arch = tiny_space.parse("12121")
    subset = tiny_data.fixed_train_subset(96, seed=0)
    batches = [tiny_data.normalise(subset.x[i:i + 32]) for i in range(0, 96, 32)]
    recalibrate_bn(net, batches, arch)
    conv, bn = net.stem[0], net.stem[1]
    with torch.no_grad():
        per_batch = [conv(x).mean(dim=(0, 2, 3)) for x in batches]
    torch.testing.assert_close(bn.running_mean, torch.stack(per_batch).mean(0), atol=1e-5, rtol=1e-5)
    # equal batches: the mean of batch means is the mean over the whole subset
    with torch.no_grad():
        whole = conv(torch.cat(batches)).mean(dim=(0, 2, 3))
    torch.testing.assert_close(bn.running_mean, whole, atol=1e-5, rtol=1e-5)
    assert not net.training


def test_recalibration_is_deterministic_per_seed(tiny_space, tiny_data):
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    arch = tiny_space.parse("22011")

    def stats(seed):
        subset = tiny_data.fixed_train_subset(64, seed=seed)
        recalibrate_bn(net, [tiny_data.normalise(subset.x)], arch)
        return net.head.conv[1].running_var.clone()

    torch.testing.assert_close(stats(1), stats(1), atol=0, rtol=0)
    assert not torch.equal(stats(1), stats(2))


def test_momentum_is_restored(tiny_space, tiny_data):
    net = SuperNet(tiny_space)
    recalibrate_bn(net, [tiny_data.normalise(tiny_data.train.x[:8])], tiny_space.parse("11111"))
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))

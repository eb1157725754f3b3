from __future__ import annotations

import pytest
import torch

from oneshot.data import load_synthetic
from oneshot.dnas import CostLoss, CostLossSettings, DnasSettings, DnasStrategy, flops_table
from oneshot.supernet import SuperNet


@pytest.fixture
def small_data():
    return load_synthetic(size=16, num_classes=4, train_images=96, val_images=32, test_images=16)


@pytest.fixture
def make_strategy(tiny_space):
    def make(method: str, data, **settings) -> DnasStrategy:
        cost = CostLoss(CostLossSettings(form="add", weight=0.5), flops_table(tiny_space),
                        DnasStrategy.uniform_probs(tiny_space))
        return DnasStrategy(tiny_space, DnasSettings(name=method, **settings), cost, data, seed=0)
    return make


@pytest.fixture
def supernet(tiny_space):
    """A supernet whose residual candidates differ (the zero-initialised last BN of every residual
    MBConv makes all candidates the identity, so their mixture has no gradient yet)."""
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    return net

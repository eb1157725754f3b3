"""Split analysis: variance explained per layer, and gradient disagreement across a layer's choices."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from oneshot.supernet import SuperNet
from oneshot.supernet.split_analysis import _paired_archs, gradient_disagreement, variance_explained
from oneshot.supernet.few_shot import SupernetSplit


def test_variance_explained_finds_the_layer_that_decides_the_value(tiny_space):
    genomes = np.array([a for a in itertools.product(*(range(n) for n in tiny_space.num_choices))
                        if tiny_space.is_canonical(a)])
    values = 10.0 * genomes[:, 2] + 0.5 * (genomes[:, 0] == 1)  # layer 2 decides, layer 0 a little
    eta2 = variance_explained(tiny_space, genomes, values)
    assert eta2.argmax() == 2 and eta2[2] > 0.95 and 0 < eta2[0] < 0.05
    assert eta2[1] == pytest.approx(0, abs=1e-12)  # uniform design: the others explain nothing
    assert eta2.sum() == pytest.approx(1.0)  # additive, balanced: the layers share all of it
    with pytest.raises(ValueError, match="all values are equal"):
        variance_explained(tiny_space, genomes, np.ones(len(genomes)))


def test_paired_archs_differ_only_where_the_slice_forces_it(tiny_space):
    split = SupernetSplit(tiny_space, [3])  # run [3, 4]: layer 3 identity forces layer 4 identity
    paired = _paired_archs(split, [1, 2, 0, 1, 2], [5, 5, 5, 5, 5])
    assert paired == [[1, 2, 0, 0, 0], [1, 2, 0, 1, 2], [1, 2, 0, 2, 2]]
    for k, arch in enumerate(paired):
        assert split.route(arch) == k


def test_gradient_disagreement_is_zero_for_a_layer_whose_choices_compute_the_same(tiny_space):
    torch.manual_seed(0)
    net = SuperNet(tiny_space)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
        # layer 1's two residual MBConvs compute the identity: zero their last BN's gamma and beta
        for op in list(net.layers[1])[1:]:
            op.project[1].weight.zero_()
            op.project[1].bias.zero_()
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 3, 16, 16, generator=g), torch.randint(0, 4, (8,), generator=g)) for _ in range(2)]
    rows = {r["layer"]: r for r in gradient_disagreement(net, batches, layers=[1, 2], seed=0)}
    assert rows[1]["slices"] == 3 and rows[1]["disagreement"] == pytest.approx(0, abs=1e-6)
    assert rows[2]["disagreement"] > 1e-3  # real choices pull the shared weights apart
    assert all(p.grad is None for p in net.parameters())

"""Zero-cost proxies against values computed by hand (numpy) on tiny networks, and the evaluator."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from oneshot.evaluate.cache import EvalCache
from oneshot.evaluate.zero_cost import (ZERO_COST_PROXIES, ZeroCostEvaluator, ZeroCostSettings, build_initialised,
                                        compute_proxies, fisher, grad_norm, jacob_cov, naswot, snip, synflow, zen,
                                        zero_cost_scores)
from oneshot.nn.blocks import MBConv


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, 2, 2, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return x, y


def _linear(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False))


def _two_layer(seed=2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 5, bias=False), nn.ReLU(), nn.Linear(5, 3, bias=False))


def test_gradient_proxies_of_a_linear_classifier(batch):
    x, y = batch
    net = _linear()
    W = net[1].weight.detach().double().numpy()
    X = x.reshape(len(x), -1).double().numpy()
    Z = X @ W.T
    dZ = (_softmax(Z) - np.eye(3)[y.numpy()]) / len(X)  # d mean-CE / d logits
    G = dZ.T @ X
    assert snip(net, x, y) == pytest.approx(np.abs(W * G).sum(), rel=1e-5)
    assert grad_norm(net, x, y) == pytest.approx(np.linalg.norm(G), rel=1e-5)
    # fisher: per output unit 0.5 * mean_n (z * dL/dz)^2, counted fan-in (4) times as NASLib spreads it
    assert fisher(net, x, y) == pytest.approx(4 * (0.5 * ((Z * dZ) ** 2).mean(0)).sum(), rel=1e-5)
    assert net[1].weight.grad is None  # the proxies work on a copy


def test_synflow_two_layers_each_layer_carries_the_whole_flow(batch):
    x, _ = batch
    net = _two_layer()
    W1, W2 = (np.abs(m.weight.detach().double().numpy()) for m in (net[1], net[3]))
    R = (W2 @ W1 @ np.ones(4)).sum()  # output sum on an all-ones input with |W|
    # sum |W * dR/dW| over one layer equals R (synaptic flow is conserved), two layers -> 2R
    assert synflow(net, x) == pytest.approx(2 * R, rel=1e-9)
    assert (net[1].weight < 0).any()  # signs untouched on the caller's network


def test_jacob_cov_and_naswot_two_layers(batch):
    x, _ = batch
    net = _two_layer()
    W1, W2 = (m.weight.detach().double().numpy() for m in (net[1], net[3]))
    X = x.reshape(len(x), -1).double().numpy()
    active = (X @ W1.T > 0).astype(float)  # ReLU codes per image
    J = np.stack([W1.T @ (a * (W2.T @ np.ones(3))) for a in active])  # d sum(outputs) / d x_n
    v = np.linalg.eigvalsh(np.corrcoef(J))
    assert jacob_cov(net, x) == pytest.approx(-np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5)), rel=1e-6)
    K = active @ active.T + (1 - active) @ (1 - active).T  # units on which two images agree
    sign, logdet = np.linalg.slogdet(K)
    expected = logdet if sign != 0 else -np.inf
    assert naswot(net, x) == pytest.approx(expected)


def test_jacob_cov_of_a_linear_net_is_the_rank_one_value(batch):
    x, _ = batch  # every image has the same Jacobian: correlation all ones, eigenvalues (n, 0, ..., 0)
    n, k = len(x), 1e-5
    expected = -(np.log(n + k) + 1 / (n + k) + (n - 1) * (np.log(k) + 1 / k))
    assert jacob_cov(_linear(), x) == pytest.approx(expected, rel=1e-4)


def test_zen_by_hand_on_conv_bn_relu():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(2, 3, 1, bias=False), nn.BatchNorm2d(3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(3, 2))
    x = torch.zeros(5, 2, 3, 3)
    got = zen(net, x, seed=7, mixup_gamma=0.01)
    g = torch.Generator().manual_seed(7)  # the draws zen makes: conv weight, linear weight, then inputs a, b
    Wc = torch.randn((3, 2, 1, 1), generator=g).double().numpy()[:, :, 0, 0]
    torch.randn((2, 3), generator=g)
    a = torch.randn(x.shape, generator=g).double().numpy()
    b = torch.randn(x.shape, generator=g).double().numpy()

    def features(inp):
        h = np.einsum("oc,nchw->nohw", Wc, inp)
        mu, var = h.mean((0, 2, 3), keepdims=True), h.var((0, 2, 3), keepdims=True)
        return np.maximum((h - mu) / np.sqrt(var + 1e-5), 0), h

    fa, h = features(a)
    fb, _ = features(a + 0.01 * b)
    delta = np.abs(fa - fb).sum((1, 2, 3)).mean()
    bn_var = h.var((0, 2, 3), ddof=1).mean()  # BN's unbiased batch variance on the clean input
    assert got == pytest.approx(np.log(delta) + 0.5 * np.log(bn_var), rel=1e-4)


def test_compute_proxies_matches_the_single_functions(tiny_space, tiny_data):
    net = build_initialised(tiny_space, [2] * tiny_space.num_layers, seed=0)
    x = tiny_data.normalise(tiny_data.train.x[:8])
    y = tiny_data.train.y[:8]
    together = compute_proxies(net, x, y, ZERO_COST_PROXIES)
    for fn in (synflow, snip, grad_norm, fisher, jacob_cov, naswot):
        assert together[fn.__name__] == pytest.approx(fn(net, x, y), rel=1e-5)
    assert together["zen"] == pytest.approx(zen(net, x, y), rel=1e-5)
    assert all(np.isfinite(v) for v in together.values())


def test_build_initialised_is_seeded_and_keeps_residual_blocks_alive(tiny_space):
    arch = [2] * tiny_space.num_layers
    a, b = build_initialised(tiny_space, arch, 0), build_initialised(tiny_space, arch, 0)
    c = build_initialised(tiny_space, arch, 1)
    pa, pb, pc = (torch.cat([p.flatten() for p in n.parameters()]) for n in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    residual = [m for m in a.modules() if isinstance(m, MBConv) and m.residual]
    assert residual and all(torch.all(m.project[1].weight == 1) for m in residual)


def test_evaluator_caches_per_proxy_and_settings(tiny_space, tiny_data, tmp_path):
    cache = EvalCache(tmp_path / "cache.sqlite")
    archs = [[1, 0, 2, 0, 0], [0, 1, 2, 0, 0], [2, 2, 2, 2, 2], [1, 0, 2, 0, 0]]
    ev = ZeroCostEvaluator(tiny_space, tiny_data, ZeroCostSettings("naswot", batch_size=16), cache=cache,
                           progress=False)
    first = ev.evaluate(archs)
    assert first["cached"].tolist() == [False, False, False, True]
    assert first["score"].iloc[0] == first["score"].iloc[3]
    again = ZeroCostEvaluator(tiny_space, tiny_data, ZeroCostSettings("naswot", batch_size=16), cache=cache,
                              progress=False).evaluate(archs)
    assert again["cached"].all() and np.array_equal(again["score"], first["score"])
    other_seed = ZeroCostEvaluator(tiny_space, tiny_data, ZeroCostSettings("naswot", batch_size=16, seed=1),
                                   cache=cache, progress=False)
    assert other_seed.settings_key != ev.settings_key and not other_seed.evaluate(archs[:1])["cached"].any()
    scores = zero_cost_scores(tiny_space, tiny_data, archs, ("naswot", "snip"), batch_size=16, cache=cache,
                              progress=False)
    assert np.array_equal(scores["naswot"], first["score"].to_numpy())  # from the cache, same number
    assert np.isfinite(scores["snip"]).all()
    with pytest.raises(ValueError, match="evaluator.proxy='bogus'"):
        ZeroCostEvaluator(tiny_space, tiny_data, ZeroCostSettings("bogus"))

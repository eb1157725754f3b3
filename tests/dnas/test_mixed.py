"""The three relaxations: gradients reach alpha; ProxylessNAS runs and keeps only the sampled paths."""
import pytest
import torch
import torch.nn.functional as F

from oneshot.dnas.alpha import binary_gates, step_generator


def _x(space, n=8):
    return torch.randn(n, 3, space.input_size, space.input_size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("method", ["fbnet", "gdas", "proxyless"])
def test_gradients_reach_alpha_of_every_layer(method, tiny_space, supernet, make_strategy, small_data):
    strategy = make_strategy(method, small_data)
    with torch.no_grad():  # not at the symmetric start, so every relaxation has a non-zero gradient
        strategy.alpha.logits.normal_(generator=torch.Generator().manual_seed(3))
    supernet.train()
    logits, _ = strategy.arch_forward(supernet, _x(tiny_space), step=0, tau=1.0)
    loss = F.cross_entropy(logits, torch.arange(8) % 4)
    (grad,) = torch.autograd.grad(loss, [strategy.alpha.logits])
    assert torch.isfinite(grad).all()
    assert (grad.abs().sum(dim=1) > 0).all(), grad


def _ran(supernet):
    ran = set()
    hooks = [op.register_forward_hook(lambda m, i, o, key=(l, c): ran.add(key))
             for l, ops in enumerate(supernet.layers) for c, op in enumerate(ops)]
    return ran, hooks


def test_proxyless_alpha_step_runs_only_the_two_sampled_paths(tiny_space, supernet, make_strategy, small_data):
    strategy = make_strategy("proxyless", small_data)
    supernet.train()
    ran, hooks = _ran(supernet)
    gates = binary_gates(strategy.alpha, step_generator(strategy.seed, 5, 2))
    logits, drawn = strategy.arch_forward(supernet, _x(tiny_space), step=5, tau=1.0)
    assert drawn.pairs == gates.pairs
    active = {(l, p[a]) for l, (p, a) in enumerate(zip(drawn.pairs, drawn.active))}
    assert ran == active  # forward: one candidate per layer
    F.cross_entropy(logits, torch.arange(8) % 4).backward()
    sampled = {(l, c) for l, p in enumerate(drawn.pairs) for c in p}
    assert ran == sampled  # backward: the other sampled candidate, never the rest
    assert all(p.grad is None for l, ops in enumerate(supernet.layers) for p in ops.parameters())
    for h in hooks:
        h.remove()


def _saved_bytes(fn):
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return total[0], out


def test_proxyless_alpha_step_keeps_one_paths_activations(tiny_space, supernet, make_strategy, small_data):
    """Memory O(1) in the candidates: the alpha step saves no more than a single-path forward
    of the active arch; FBNet's weighted sum saves every candidate's activations."""
    x = _x(tiny_space)
    supernet.train()
    proxyless = make_strategy("proxyless", small_data)
    saved, (_, drawn) = _saved_bytes(lambda: proxyless.arch_forward(supernet, x, step=1, tau=1.0))
    single, _ = _saved_bytes(lambda: supernet(x, drawn.arch))
    fbnet, _ = _saved_bytes(lambda: make_strategy("fbnet", small_data).arch_forward(supernet, x, step=1, tau=1.0))
    assert saved <= single * 1.25  # the path's activations + each gate's saved input and output
    assert fbnet > 1.5 * saved


def test_gdas_runs_only_the_sampled_candidate(tiny_space, supernet, make_strategy, small_data):
    strategy = make_strategy("gdas", small_data)
    supernet.train()
    ran, hooks = _ran(supernet)
    logits, arch = strategy.arch_forward(supernet, _x(tiny_space), step=0, tau=1.0)
    assert ran == {(l, c) for l, c in enumerate(arch)}
    for h in hooks:
        h.remove()

"""Mixed forward passes over the candidates of a separate-weights :class:`~oneshot.supernet.SuperNet`.

``SuperNet.forward(x, arch)`` runs one path; these run, per layer, a weighted sum of every
candidate (FBNet), one hard-gated candidate (GDAS) or a binary gate over two sampled
candidates whose other output is recomputed only in the backward pass (ProxylessNAS),
so the alpha step of ProxylessNAS keeps one path's activations.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

LayerFn = Callable[[int, nn.ModuleList, torch.Tensor], torch.Tensor]


def run_layers(net: nn.Module, x: torch.Tensor, layer: LayerFn) -> torch.Tensor:
    """Stem, ``layer(l, candidates, x)`` for every searchable layer, head."""
    x = net.stem(x)
    for index, ops in enumerate(net.layers):
        x = layer(index, ops, x)
    return net.head(x)


def soft_forward(net: nn.Module, x: torch.Tensor, weights: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """FBNet: ``sum_c weights[l, c] * op_c(x)`` at every layer (every candidate runs)."""
    def layer(l: int, ops: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        w = weights[l].to(h.dtype)
        return sum(w[c] * ops[c](h) for c in range(counts[l]))
    return run_layers(net, x, layer)


def hard_forward(net: nn.Module, x: torch.Tensor, hard: torch.Tensor, arch: Sequence[int],
                 counts: Sequence[int]) -> torch.Tensor:
    """GDAS: only ``op_k`` runs (``k = arch[l]``); ``hard[l, k] * op_k(x) + sum_{c != k} hard[l, c]``
    (the others are 0 in value) carries the straight-through gradient to every logit."""
    def layer(l: int, ops: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        k, w = arch[l], hard[l].to(h.dtype)
        rest = w[:counts[l]].sum() - w[k]
        return w[k] * ops[k](h) + rest
    return run_layers(net, x, layer)


class _BinaryGate(torch.autograd.Function):
    """Output of the active candidate; in backward, ``dL/dgate_j = <dL/dout, op_j(x)>`` for the
    two sampled candidates, recomputed without a graph (ProxylessNAS's ArchGradientFunction)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, gates: torch.Tensor, active: nn.Module, pair: tuple) -> torch.Tensor:
        detached = x.detach().requires_grad_(x.requires_grad)
        with torch.enable_grad():
            out = active(detached)
        ctx.save_for_backward(detached, out)
        ctx.pair = pair
        ctx.autocast = _autocast_state(x.device.type)
        return out.detach()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        detached, out = ctx.saved_tensors
        grad_x = None
        if detached.requires_grad:
            (grad_x,) = torch.autograd.grad(out, detached, grad_out)
        device_type, enabled, dtype = ctx.autocast
        with torch.no_grad(), torch.autocast(device_type, dtype=dtype, enabled=enabled):
            grads = torch.stack([(op(detached).float() * grad_out.float()).sum() for op in ctx.pair])
        return grad_x, grads, None, None


def _autocast_state(device_type: str) -> tuple[str, bool, torch.dtype]:
    """The ambient autocast (replayed in backward, which runs outside it)."""
    try:
        return device_type, torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type)
    except (AttributeError, TypeError):  # torch < 2.4
        if device_type == "cuda":
            return device_type, torch.is_autocast_enabled(), torch.get_autocast_gpu_dtype()
        return device_type, torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()


def gated_forward(net: nn.Module, x: torch.Tensor, pairs: Sequence[tuple[int, int]], active: Sequence[int],
                  gates: torch.Tensor) -> torch.Tensor:
    """ProxylessNAS alpha step: the active candidate of each layer's sampled pair runs; the
    gate gradients reach ``gates`` (and through them alpha); the weights get no gradient."""
    def layer(l: int, ops: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        pair = (ops[pairs[l][0]], ops[pairs[l][1]])
        return _BinaryGate.apply(h, gates[l], pair[active[l]], pair)
    return run_layers(net, x, layer)

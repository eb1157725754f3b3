"""`SuperNet`: every candidate op of every layer with its own weights; one path per call."""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch
from torch import nn

from ..nn.blocks import build_head, build_stem
from ..space.arch import Arch
from ..space.space import SearchSpace


class SubNet(nn.Module):
    """A stand-alone network for one arch: stem, one op per layer, head.

    ``forward(x, arch=None)`` accepts (and checks) an arch so the same training loop
    drives supernets and subnets.
    """

    def __init__(self, space: SearchSpace, arch: Sequence[int], stem: nn.Module,
                 layers: Sequence[nn.Module], head: nn.Module):
        super().__init__()
        self.space = space
        self.arch = space.validate(arch)
        self.stem = stem
        self.layers = nn.Sequential(*layers)
        self.head = head

    @classmethod
    def build(cls, space: SearchSpace, arch: Sequence[int]) -> "SubNet":
        """Fresh (randomly initialised) stand-alone network for ``arch``."""
        arch = space.validate(arch)
        ops = [layer.candidates[c].build(layer, space.activation) for layer, c in zip(space.layers, arch)]
        net = cls(space, arch, build_stem(space), ops, build_head(space))
        init_weights(net)
        return net

    def forward(self, x: torch.Tensor, arch: Sequence[int] | None = None) -> torch.Tensor:
        if arch is not None and tuple(arch) != tuple(self.arch):
            raise ValueError(f"subnet {self.arch} was asked to run arch {Arch(arch)}")
        return self.head(self.layers(self.stem(x)))


class SuperNet(nn.Module):
    """Single-path weight-sharing supernet with separate weights per candidate op.

    ``forward(x, arch)`` runs only the ops ``arch`` picks and keeps no state between
    calls, so unsampled ops get no gradient (their ``.grad`` stays ``None``).
    """

    sharing = "separate"

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space
        self.stem = build_stem(space)
        self.layers = nn.ModuleList(
            nn.ModuleList(op.build(layer, space.activation) for op in layer.candidates)
            for layer in space.layers
        )
        self.head = build_head(space)
        init_weights(self)

    def forward(self, x: torch.Tensor, arch: Sequence[int]) -> torch.Tensor:
        if len(arch) != len(self.layers):
            self.space.validate(arch)  # raises with a clear message
        x = self.stem(x)
        for ops, choice in zip(self.layers, arch):
            x = ops[choice](x)
        return self.head(x)

    def layer_call(self, layer: int, choice: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Module]:
        """What ``forward`` runs at ``layer`` for ``choice``: (callable, the module owning its state)."""
        module = self.layers[layer][choice]
        return module, module

    def path_modules(self, arch: Sequence[int]) -> list[nn.Module]:
        """The modules ``arch`` runs, in order (stem, one op per layer, head)."""
        arch = self.space.validate(arch)
        return [self.stem, *(ops[c] for ops, c in zip(self.layers, arch)), self.head]

    def extract(self, arch: Sequence[int]) -> SubNet:
        """Stand-alone copy of the path ``arch`` with inherited weights (and BN stats)."""
        arch = self.space.validate(arch)
        ops = [copy.deepcopy(ops[c]) for ops, c in zip(self.layers, arch)]
        return SubNet(self.space, arch, copy.deepcopy(self.stem), ops, copy.deepcopy(self.head))


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, small-normal classifier (torchvision's MobileNetV2 init).

    The last BN of every residual MBConv starts at zero (Goyal et al.): each block
    starts as the identity, which keeps deep random paths of a supernet trainable.
    """
    from ..nn.blocks import MBConv

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:  # squeeze-excite convs (OFA zeroes conv biases too)
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, MBConv) and m.residual:
            nn.init.zeros_(m.project[1].weight)


def build_supernet(space: SearchSpace, sharing: str = "separate") -> nn.Module:
    """Builder used by configs: ``sharing="separate"`` (per-op weights) or ``"elastic"``
    (Once-for-All-style: one weight tensor per layer, see :mod:`oneshot.supernet.elastic`)."""
    if sharing == "separate":
        return SuperNet(space)
    if sharing == "elastic":
        from .elastic import ElasticSuperNet

        return ElasticSuperNet(space)
    raise ValueError(f"unknown supernet sharing {sharing!r}: available: 'separate', 'elastic'")

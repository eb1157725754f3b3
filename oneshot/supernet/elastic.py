"""`ElasticSuperNet`: Once-for-All-style weight sharing, one weight tensor per layer.

Every searchable layer is one :class:`~oneshot.nn.elastic.ElasticMBConv` sized by the
layer's max kernel and max expand; a candidate ``mbconv_k<k>_e<e>`` (or ``mbconv_se_...``, whose
block then carries a sliced squeeze-excite) is the centre-cropped,
transformed kernel and the leading ``in_channels * e`` hidden channels of it, and ``skip``
(offered at stage positions >= ``min_depth``) drops the layer -- elastic depth. Stem and
head are shared by all archs. As with :class:`~oneshot.supernet.SuperNet`, the arch is an
argument of ``forward`` and nothing about it is stored between calls.
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch
from torch import nn

from ..nn.blocks import build_head, build_stem
from ..nn.elastic import ElasticMBConv
from ..space.space import SearchSpace
from .elastic_dims import block_plan, check_elastic_space
from .supernet import SubNet, init_weights


class ElasticSuperNet(nn.Module):
    """Elastic (kernel / expand / depth) supernet over a space of elastic block ops + ``skip``.

    ``forward(x, arch)`` runs the subnet ``arch`` picks (choice indices into each layer's
    candidates); ``extract(arch)`` returns it as a stand-alone :class:`SubNet` of plain
    MBConv blocks computing the same function; ``reorder_channels_by_importance()`` is
    the hook progressive shrinking calls before training smaller expansions.
    """

    sharing = "elastic"

    def __init__(self, space: SearchSpace):
        super().__init__()
        check_elastic_space(space)
        self.space = space
        self.stem = build_stem(space)
        blocks = []
        plan: list[tuple[tuple[int, int] | None, ...]] = []
        for layer in space.layers:
            kwargs, layer_plan = block_plan(layer, space.activation)
            blocks.append(ElasticMBConv(layer.in_channels, layer.out_channels, stride=layer.stride, **kwargs))
            plan.append(layer_plan)
        self.layers = nn.ModuleList(blocks)
        self.head = build_head(space)
        self.skip = nn.Identity()
        # per layer, per choice: (kernel, expand), or None for skip -- static, not per call
        self._plan = tuple(plan)
        init_weights(self)
        # same convention as init_weights gives MBConv: residual blocks start as the identity
        for block in self.layers:
            if block.residual:
                nn.init.zeros_(block.project_bn.weight)

    def op_args(self, arch: Sequence[int]) -> list[tuple[int, int] | None]:
        """Per layer ``(kernel, expand)`` of the op ``arch`` picks, ``None`` for skip."""
        arch = self.space.validate(arch)
        return [plan[c] for plan, c in zip(self._plan, arch)]

    def forward(self, x: torch.Tensor, arch: Sequence[int]) -> torch.Tensor:
        x = self.stem(x)
        for block, args in zip(self.layers, self.op_args(arch)):
            if args is not None:
                x = block(x, *args)
        return self.head(x)

    def layer_call(self, layer: int, choice: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Module | None]:
        """What ``forward`` runs at ``layer`` for ``choice``: (callable, the module owning its
        state), ``(identity, None)`` for a skip."""
        args = self._plan[layer][choice]
        if args is None:
            return _identity, None
        block = self.layers[layer]
        return (lambda x: block(x, *args)), block

    def path_modules(self, arch: Sequence[int]) -> list[nn.Module]:
        """The modules ``arch`` runs: stem, per layer its elastic block (``self.skip`` for a
        skip), head. The blocks hold the max-width BNs; ``arch`` uses their leading channels,
        so resetting and recalibrating them for ``arch`` touches only what ``arch`` uses
        (plus resetting the unused tail, which every arch's recalibration redoes anyway)."""
        return [self.stem,
                *(self.skip if args is None else block for block, args in zip(self.layers, self.op_args(arch))),
                self.head]

    def extract(self, arch: Sequence[int]) -> SubNet:
        """Stand-alone subnet of ``arch``: plain MBConv blocks with the cropped, transformed
        and sliced weights and sliced BN stats (same outputs as ``forward(x, arch)``)."""
        arch = self.space.validate(arch)
        ops = [nn.Identity() if args is None else block.to_mbconv(*args)
               for block, args in zip(self.layers, self.op_args(arch))]
        net = SubNet(self.space, arch, copy.deepcopy(self.stem), ops, copy.deepcopy(self.head))
        return net.train(self.training)

    def reorder_channels_by_importance(self, expand_stage: int = 0, optimizer: torch.optim.Optimizer | None = None
                                       ) -> list[torch.Tensor | None]:
        """OFA's channel re-sorting in every layer (see :meth:`ElasticMBConv.reorder_channels`):
        the largest arch computes the same function afterwards and smaller expansions take
        the most important hidden channels; ``optimizer``'s state (momentum) is permuted with
        the weights. Returns each layer's permutation."""
        return [block.reorder_channels(expand_stage, optimizer) for block in self.layers]

    def kernel_transform_parameters(self) -> list[nn.Parameter]:
        """The learned kernel-transformation matrices (e.g. to exclude them from weight decay)."""
        return [p for name, p in self.named_parameters() if ".transform_" in name]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def sort_channels(model: ElasticSuperNet, expand_stage: int = 0,
                  optimizer: torch.optim.Optimizer | None = None) -> list[torch.Tensor | None]:
    """Function form of :meth:`ElasticSuperNet.reorder_channels_by_importance`."""
    if not isinstance(model, ElasticSuperNet):
        raise TypeError(f"sort_channels needs an ElasticSuperNet, got {type(model).__name__} "
                        "(channel re-sorting only applies to sharing='elastic')")
    return model.reorder_channels_by_importance(expand_stage, optimizer)

"""Elastic (Once-for-All-style) blocks: one weight tensor per layer, smaller ops sliced from it.

* :class:`ElasticBatchNorm2d` -- a real ``nn.BatchNorm2d`` of the max width that normalises
  the leading ``x.size(1)`` channels with sliced running stats / affine params (OFA's
  ``DynamicBatchNorm2d``).
* :class:`ElasticDepthwiseConv2d` -- a depthwise conv of the max kernel; smaller kernels are
  the centre crop of the next larger (transformed) kernel times a learned
  ``k_small^2 x k_small^2`` matrix per transition, initialised to identity (OFA's
  ``DynamicSeparableConv2d``, ``KERNEL_TRANSFORM_MODE=1``).
* :class:`ElasticMBConv` -- inverted residual whose kernel and expansion ratio are arguments
  of ``forward``; the expansion takes the leading hidden channels, which
  :meth:`ElasticMBConv.reorder_channels` sorts by importance.

Nothing here keeps an "active" kernel or width: every call says what it runs.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import MBConv, SqueezeExcite, make_activation


class ElasticBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` of the max width that also accepts fewer (leading) channels.

    With ``c < num_features`` channels it uses ``running_mean[:c]`` etc.; in train mode
    the sliced running stats are updated in place (they are views of the buffers), with
    the same momentum / ``momentum=None`` cumulative-average rule and
    ``num_batches_tracked`` counter as the full-width module, so
    ``reset_running_stats()`` + a few train-mode batches recalibrates a subnet's BN.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        if c == self.num_features:
            return super().forward(x)
        if c > self.num_features:
            raise ValueError(f"ElasticBatchNorm2d({self.num_features}) got {c} channels")
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_buffers = not self.training or self.track_running_stats
        mean = self.running_mean[:c] if use_buffers and self.running_mean is not None else None
        var = self.running_var[:c] if use_buffers and self.running_var is not None else None
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        weight = self.weight[:c] if self.weight is not None else None
        bias = self.bias[:c] if self.bias is not None else None
        return F.batch_norm(x, mean, var, weight, bias, bn_training, factor, self.eps)


def copy_bn_(target: nn.BatchNorm2d, source: nn.BatchNorm2d, channels: int | None = None) -> None:
    """Copy the leading ``channels`` of ``source``'s affine params and stats into ``target``."""
    c = target.num_features if channels is None else channels
    with torch.no_grad():
        if target.affine:
            target.weight.copy_(source.weight[:c])
            target.bias.copy_(source.bias[:c])
        if target.track_running_stats and source.running_mean is not None:
            target.running_mean.copy_(source.running_mean[:c])
            target.running_var.copy_(source.running_var[:c])
            target.num_batches_tracked.copy_(source.num_batches_tracked)
    target.eps, target.momentum = source.eps, source.momentum


def permute_running_stats_(bn: nn.BatchNorm2d, perm: torch.Tensor) -> None:
    with torch.no_grad():
        for t in (bn.running_mean, bn.running_var):
            if t is not None:
                t.copy_(t[perm])


def permute_optimizer_state_(optimizer: torch.optim.Optimizer, param: torch.Tensor, perm: torch.Tensor,
                             dim: int) -> None:
    """Permute ``optimizer``'s per-parameter state of ``param`` (tensors shaped like it) along ``dim``."""
    with torch.no_grad():
        for value in optimizer.state.get(param, {}).values():
            if torch.is_tensor(value) and value.shape == param.shape:
                value.copy_(value.index_select(dim, perm.to(value.device)))


def _permute_param_(param: torch.Tensor, perm: torch.Tensor, dim: int) -> None:
    with torch.no_grad():
        param.copy_(param.index_select(dim, perm))
        if param.grad is not None:
            param.grad.copy_(param.grad.index_select(dim, perm))


class ElasticDepthwiseConv2d(nn.Module):
    """Depthwise conv holding one ``(C, 1, K_max, K_max)`` weight for kernels ``kernel_sizes``.

    The weight of kernel ``k < K_max`` is built top-down: centre-crop the ``K_max`` weight to
    the next smaller size, flatten each channel's filter and multiply by that transition's
    matrix (``transform_7to5`` ...), repeat until size ``k``. The matrices are shared by all
    channels and start as identity (a plain centre crop).
    """

    def __init__(self, channels: int, kernel_sizes: Iterable[int], stride: int = 1):
        super().__init__()
        self.kernel_sizes: tuple[int, ...] = tuple(sorted(set(int(k) for k in kernel_sizes)))
        if not self.kernel_sizes or any(k < 1 or k % 2 == 0 for k in self.kernel_sizes):
            raise ValueError(f"kernel sizes must be odd and >= 1, got {self.kernel_sizes}")
        self.channels = channels
        self.stride = stride
        kmax = self.kernel_sizes[-1]
        self.conv = nn.Conv2d(channels, channels, kmax, stride, kmax // 2, groups=channels, bias=False)
        for small, large in zip(self.kernel_sizes[:-1], self.kernel_sizes[1:]):
            self.register_parameter(self._transform_name(large, small), nn.Parameter(torch.eye(small * small)))

    @staticmethod
    def _transform_name(large: int, small: int) -> str:
        return f"transform_{large}to{small}"

    def transform(self, large: int, small: int) -> nn.Parameter:
        """The learned matrix mapping the centre ``small x small`` crop of ``large``."""
        return getattr(self, self._transform_name(large, small))

    def weight(self, kernel: int, channels: int | None = None) -> torch.Tensor:
        """Filters ``(channels, 1, kernel, kernel)`` of the leading ``channels`` (default all)."""
        if kernel not in self.kernel_sizes:
            raise ValueError(f"kernel {kernel} is not one of this layer's sizes {self.kernel_sizes}")
        c = self.channels if channels is None else channels
        w = self.conv.weight if c == self.channels else self.conv.weight[:c]
        ks = self.kernel_sizes
        for i in range(len(ks) - 1, 0, -1):
            large, small = ks[i], ks[i - 1]
            if large <= kernel:
                break
            start = (large - small) // 2
            crop = w[:, :, start:start + small, start:start + small].reshape(c, small * small)
            w = F.linear(crop, self.transform(large, small)).view(c, 1, small, small)
        return w

    def forward(self, x: torch.Tensor, kernel: int) -> torch.Tensor:
        c = x.size(1)
        return F.conv2d(x, self.weight(kernel, c), None, self.stride, kernel // 2, 1, c)


class ElasticMBConv(nn.Module):
    """Inverted residual with elastic kernel and expansion ratio, weights of the largest op.

    ``forward(x, kernel, expand)`` runs MBConv(kernel, expand): the expand conv's leading
    ``in_channels * expand`` output channels, their BN, the depthwise conv's leading
    channels at the (transformed) ``kernel`` and the project conv's leading input channels.
    :meth:`to_mbconv` builds the same op as a plain :class:`~oneshot.nn.blocks.MBConv`.

    ``se_widths`` (``{hidden channels: SE bottleneck width}`` for every expansion) adds a
    squeeze-excite after the depthwise conv, sliced like OFA's ``DynamicSE``: at hidden width
    ``h`` with bottleneck ``m`` the reduce conv uses ``weight[:m, :h]``, ``bias[:m]`` and the
    expand conv ``weight[:h, :m]``, ``bias[:h]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int],
                 expand_ratios: Sequence[int], stride: int = 1, activation: str = "relu",
                 se_widths: Mapping[int, int] | None = None):
        super().__init__()
        self.expand_ratios: tuple[int, ...] = tuple(sorted(set(int(e) for e in expand_ratios)))
        if not self.expand_ratios or self.expand_ratios[0] < 1:
            raise ValueError(f"expand ratios must be >= 1, got {expand_ratios}")
        if 1 in self.expand_ratios and len(self.expand_ratios) > 1:
            raise ValueError(
                f"expand ratios {self.expand_ratios}: expand 1 (no expand conv) cannot share weights "
                "with larger ratios in an elastic layer; drop e1 or make it the only ratio")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.activation = activation
        self.max_hidden = in_channels * self.expand_ratios[-1]
        if self.expand_ratios[-1] == 1:
            self.expand_conv: nn.Conv2d | None = None
            self.expand_bn: ElasticBatchNorm2d | None = None
        else:
            self.expand_conv = nn.Conv2d(in_channels, self.max_hidden, 1, bias=False)
            self.expand_bn = ElasticBatchNorm2d(self.max_hidden)
        self.depthwise = ElasticDepthwiseConv2d(self.max_hidden, kernel_sizes, stride)
        self.depthwise_bn = ElasticBatchNorm2d(self.max_hidden)
        self.se_widths = dict(se_widths) if se_widths else None
        if self.se_widths is not None:
            missing = [self.in_channels * e for e in self.expand_ratios if self.in_channels * e not in self.se_widths]
            if missing:
                raise ValueError(f"se_widths {self.se_widths} lacks the hidden width(s) {missing}")
            mid = self.se_widths[self.max_hidden]
            self.se = SqueezeExcite(self.max_hidden, mid)
        self.project_conv = nn.Conv2d(self.max_hidden, out_channels, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(out_channels)
        self.act = make_activation(activation)
        self.residual = stride == 1 and in_channels == out_channels

    @property
    def kernel_sizes(self) -> tuple[int, ...]:
        return self.depthwise.kernel_sizes

    def hidden(self, expand: int) -> int:
        if expand not in self.expand_ratios:
            raise ValueError(f"expand {expand} is not one of this layer's ratios {self.expand_ratios}")
        return self.in_channels * expand

    def forward(self, x: torch.Tensor, kernel: int, expand: int) -> torch.Tensor:
        hidden = self.hidden(expand)
        h = x
        if self.expand_conv is not None:
            w = self.expand_conv.weight
            h = self.act(self.expand_bn(F.conv2d(x, w if hidden == self.max_hidden else w[:hidden])))
        h = self.act(self.depthwise_bn(self.depthwise(h, kernel)))
        if self.se_widths is not None:
            h = self._se(h, hidden)
        w = self.project_conv.weight
        out = self.project_bn(F.conv2d(h, w if hidden == self.max_hidden else w[:, :hidden]))
        return out + x if self.residual else out

    def _se_slices(self, hidden: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mid = self.se_widths[hidden]
        r, e = self.se.reduce, self.se.expand
        return r.weight[:mid, :hidden], r.bias[:mid], e.weight[:hidden, :mid], e.bias[:hidden]

    def _se(self, h: torch.Tensor, hidden: int) -> torch.Tensor:
        if hidden == self.max_hidden:
            return self.se(h)
        rw, rb, ew, eb = self._se_slices(hidden)
        y = F.relu(F.conv2d(h.mean((2, 3), keepdim=True), rw, rb))
        return h * F.hardsigmoid(F.conv2d(y, ew, eb))

    def to_mbconv(self, kernel: int, expand: int) -> MBConv:
        """Stand-alone MBConv(kernel, expand) with this layer's sliced weights and BN stats."""
        hidden = self.hidden(expand)
        ref = self.project_conv.weight
        se_channels = self.se_widths[hidden] if self.se_widths is not None else 0
        block = MBConv(self.in_channels, self.out_channels, kernel, expand, self.stride, self.activation,
                       se_channels=se_channels)
        block = block.to(device=ref.device, dtype=ref.dtype)
        with torch.no_grad():
            if self.expand_conv is not None:
                block.expand[0].weight.copy_(self.expand_conv.weight[:hidden])
                copy_bn_(block.expand[1], self.expand_bn, hidden)
            block.depthwise[0].weight.copy_(self.depthwise.weight(kernel, hidden))
            copy_bn_(block.depthwise[1], self.depthwise_bn, hidden)
            if se_channels:
                for param, value in zip((block.se.reduce.weight, block.se.reduce.bias, block.se.expand.weight,
                                         block.se.expand.bias), self._se_slices(hidden)):
                    param.copy_(value)
            block.project[0].weight.copy_(self.project_conv.weight[:, :hidden])
            copy_bn_(block.project[1], self.project_bn)
        block.train(self.training)
        return block

    def channel_importance(self) -> torch.Tensor:
        """L1 norm of the project conv's weights per hidden (input) channel."""
        return self.project_conv.weight.detach().abs().sum(dim=(0, 2, 3))

    def hidden_channel_params(self) -> list[tuple[nn.Parameter, int]]:
        """``(parameter, dim)`` pairs indexed by the hidden channels along ``dim``: what
        :meth:`reorder_channels` permutes (empty without an expand conv)."""
        if self.expand_conv is None:
            return []
        pairs = [(self.expand_conv.weight, 0), (self.expand_bn.weight, 0), (self.expand_bn.bias, 0),
                 (self.depthwise.conv.weight, 0), (self.depthwise_bn.weight, 0), (self.depthwise_bn.bias, 0)]
        if self.se_widths is not None:  # the SE reads and gates the hidden channels
            pairs += [(self.se.reduce.weight, 1), (self.se.expand.weight, 0), (self.se.expand.bias, 0)]
        pairs.append((self.project_conv.weight, 1))
        return [(p, dim) for p, dim in pairs if p is not None]

    def reorder_channels(self, expand_stage: int = 0,
                         optimizer: torch.optim.Optimizer | None = None) -> torch.Tensor | None:
        """Sort hidden channels by importance, most important first (OFA's
        ``re_organize_middle_weights``); the block computes the same function for its
        largest expansion afterwards.

        ``expand_stage`` (OFA's ``expand_ratio_stage``) protects widths already trained:
        with hidden widths ``w_0 > w_1 > ...`` (largest expansion first), channels outside
        ``w_{expand_stage}`` stay in their band ``[w_{i+1}, w_i)`` (sorted inside it) and only
        the channels below ``w_{expand_stage}`` are sorted freely; 0 sorts all channels.
        Returns the permutation applied (``new[i] = old[perm[i]]``), or ``None`` when the
        block has no expand conv (the hidden channels are then the input channels).
        ``optimizer``'s per-parameter state (momentum buffers, Adam moments) is permuted with
        the weights, so training continues on the same trajectory; without it the old buffers
        act on permuted channels.
        """
        if self.expand_conv is None:
            return None
        importance = self.channel_importance().to(torch.float64)
        widths = sorted((self.in_channels * e for e in self.expand_ratios), reverse=True)
        stage = max(0, min(int(expand_stage), len(widths) - 1))
        band = torch.zeros_like(importance)
        for i in range(1, stage + 1):
            band[widths[i]:widths[i - 1]] = stage + 1 - i  # outer bands sort last
        # sort by (band ascending, importance descending); importance >= 0
        key = band * (importance.max() + 1.0) * 2.0 - importance
        perm = torch.argsort(key, stable=True)
        for param, dim in self.hidden_channel_params():
            _permute_param_(param, perm, dim)
            if optimizer is not None:
                permute_optimizer_state_(optimizer, param, perm, dim)
        for bn in (self.expand_bn, self.depthwise_bn):
            permute_running_stats_(bn, perm)
        return perm

"""Building blocks: conv-BN-act, MBConv (inverted residual, optional squeeze-excite), stem, head.

Plain torch modules with no knowledge of search spaces: each op kind
(:mod:`oneshot.space.ops`) builds its module from them.
"""
from __future__ import annotations

import torch
from torch import nn


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "hswish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {name!r}: use relu, relu6 or hswish")


class ConvBN(nn.Sequential):
    """k x k conv (no bias, 'same' padding) + BN, optionally followed by an activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: str | None = None):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if activation:
            layers.append(make_activation(activation))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Once-for-All's / MobileNetV3's SE: global average pool, 1x1 conv to ``mid`` + ReLU,
    1x1 conv back + h-sigmoid, times the input (both convs biased, no BN)."""

    def __init__(self, channels: int, mid: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(x.mean((2, 3), keepdim=True)))))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand + BN + act, k x k depthwise + BN + act, [SE], 1x1 project + BN.

    The residual is added when stride is 1 and channels match. With ``expand == 1``
    the expansion conv is omitted (MobileNetV2's first block). ``se_channels > 0`` inserts a
    :class:`SqueezeExcite` of that width after the depthwise conv (MobileNetV3 / Once-for-All);
    without it the module has no ``se`` parameters.
    """

    def __init__(self, cin: int, cout: int, kernel: int, expand: int, stride: int, activation: str = "relu",
                 se_channels: int = 0):
        super().__init__()
        hidden = cin * expand
        self.expand = ConvBN(cin, hidden, 1, activation=activation) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden, activation=activation)
        self.se = SqueezeExcite(hidden, se_channels) if se_channels else None
        self.project = ConvBN(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(self.expand(x))
        if self.se is not None:
            h = self.se(h)
        out = self.project(h)
        return out + x if self.residual else out


class Head(nn.Module):
    """1x1 conv to ``channels`` + BN + act, global average pool, [feature mix], linear classifier.

    ``mix_channels > 0`` adds MobileNetV3's / Once-for-All's feature-mix layer after the pool:
    a 1x1 conv to ``mix_channels`` (no bias, no BN) + act; without it there is no ``mix``.
    """

    def __init__(self, cin: int, channels: int, num_classes: int, activation: str, mix_channels: int = 0):
        super().__init__()
        self.conv = ConvBN(cin, channels, 1, activation=activation)
        self.pool = nn.AdaptiveAvgPool2d(1)
        if mix_channels:
            self.mix = nn.Sequential(nn.Conv2d(channels, mix_channels, 1, bias=False), make_activation(activation))
        else:
            self.mix = None
        self.classifier = nn.Linear(mix_channels or channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(x))
        if self.mix is not None:
            x = self.mix(x)
        return self.classifier(torch.flatten(x, 1))


def build_stem(space) -> nn.Module:
    return ConvBN(space.in_channels, space.stem_channels, space.stem_kernel, space.stem_stride,
                  activation=space.activation)


def build_head(space) -> Head:
    return Head(space.final_channels, space.head_channels, space.num_classes, space.activation,
                space.head_mix_channels)

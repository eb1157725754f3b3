"""Building blocks: state-dict names stay those of old checkpoints; SE and feature-mix additions."""
from __future__ import annotations

import torch

from oneshot.nn.blocks import Head, MBConv

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def test_mbconv_without_se_keeps_its_state_dict_names():
    names = list(MBConv(8, 16, 3, 4, 2).state_dict())
    assert names == ["expand.0.weight", *(f"expand.1.{b}" for b in BN), "depthwise.0.weight",
                     *(f"depthwise.1.{b}" for b in BN), "project.0.weight", *(f"project.1.{b}" for b in BN)]


def test_mbconv_with_se_adds_only_se_parameters():
    plain, se = MBConv(8, 8, 3, 4, 1), MBConv(8, 8, 3, 4, 1, se_channels=8)
    extra = set(se.state_dict()) - set(plain.state_dict())
    assert extra == {"se.reduce.weight", "se.reduce.bias", "se.expand.weight", "se.expand.bias"}
    assert tuple(se(torch.randn(2, 8, 5, 5)).shape) == (2, 8, 5, 5)


def test_head_feature_mix_is_optional():
    assert list(Head(16, 32, 10, "relu").state_dict())[-2:] == ["classifier.weight", "classifier.bias"]
    assert not any(k.startswith("mix") for k in Head(16, 32, 10, "relu").state_dict())
    head = Head(16, 32, 10, "hswish", mix_channels=48)
    assert head.classifier.in_features == 48 and head.mix[0].bias is None
    assert tuple(head(torch.randn(2, 16, 4, 4)).shape) == (2, 10)

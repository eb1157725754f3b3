"""Neural-network building blocks shared by supernets and stand-alone subnets."""
from .blocks import ConvBN, Head, MBConv, SqueezeExcite, build_head, build_stem, make_activation

__all__ = ["ConvBN", "Head", "MBConv", "SqueezeExcite", "build_head", "build_stem", "make_activation"]

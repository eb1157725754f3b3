"""Weight-sharing supernets and the stand-alone subnets extracted from them."""
from .supernet import SubNet, SuperNet, build_supernet, init_weights

__all__ = ["SubNet", "SuperNet", "build_supernet", "init_weights"]

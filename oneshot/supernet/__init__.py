"""Weight-sharing supernets and the stand-alone subnets extracted from them."""
from .elastic import ElasticSuperNet, sort_channels
from .elastic_dims import (ELASTIC_DIMS, allowed_choices, allowed_mask, available_dims, check_dims,
                           largest_arch, sample_arch, smallest_arch)
from .few_shot import FewShotSuperNet, SupernetSplit, supernet_from_spec
from .supernet import SubNet, SuperNet, build_supernet, init_weights

__all__ = ["ELASTIC_DIMS", "ElasticSuperNet", "FewShotSuperNet", "SubNet", "SuperNet", "SupernetSplit",
           "allowed_choices", "allowed_mask", "available_dims", "build_supernet", "check_dims", "init_weights",
           "largest_arch", "sample_arch", "smallest_arch", "sort_channels", "supernet_from_spec"]

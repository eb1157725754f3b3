"""Search spaces: archs as data, candidate ops, analytic costs, presets."""
from .arch import Arch
from .costs import CostModel
from .ops import OpSpec
from .presets import load_space, preset_names
from .space import LayerSpec, SearchSpace

__all__ = ["Arch", "CostModel", "LayerSpec", "OpSpec", "SearchSpace", "load_space", "preset_names"]

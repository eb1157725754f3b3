"""Samplers: which archs a training step trains (uniform, constrained, fair, progressive)."""
from .base import Sampler, SeededSampler, step_rng
from .fair import FairSampler
from .registry import build_sampler, sampler_names
from .uniform import FixedSampler, UniformConstraintSampler, UniformSampler

__all__ = ["FairSampler", "FixedSampler", "Sampler", "SeededSampler", "UniformConstraintSampler",
           "UniformSampler", "build_sampler", "sampler_names", "step_rng"]

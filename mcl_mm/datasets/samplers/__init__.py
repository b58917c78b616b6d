"""mcl_mm's data samplers: ``mcl_mm.ClassBalancedSampler``."""
from .class_balanced_sampler import ClassBalancedSampler

__all__ = ['ClassBalancedSampler']

"""Test and demo scaffolding (as ``mmdet.testing``): synthetic data sets in the real on-disk
layouts (:mod:`mcl_mm.testing.synthetic_data`, also ``tools/misc/make_synthetic_data.py``).
Nothing here is imported by ``import mcl_mm`` or used at training time."""
from .synthetic_data import FORMATS

__all__ = ['FORMATS']

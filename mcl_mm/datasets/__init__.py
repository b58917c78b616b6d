"""mcl_mm's data sets: CamVid (``mcl_mm.CamVidDataset``); synthetic data in
:mod:`mcl_mm.datasets.synthetic`."""
from .camvid import CamVidDataset

__all__ = ['CamVidDataset']

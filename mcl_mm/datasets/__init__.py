"""mcl_mm's data sets: CamVid (``mcl_mm.CamVidDataset``); synthetic data in
:mod:`mcl_mm.testing.synthetic_data`."""
from mcl_mm.registry import DATASETS
from mcl_mm.utils.toolboxes import installed, register_unavailable

from .camvid import CamVidDataset
from .cifar import CIFAR100Dataset  # noqa: F401
from .imagenet import ImageNetDataset  # noqa: F401
from .samplers import ClassBalancedSampler  # noqa: F401

if installed('mmpose'):
    from .coco_person import CocoPersonJigsawDataset  # noqa: F401
else:
    register_unavailable(DATASETS, 'CocoPersonJigsawDataset', 'mmpose')

__all__ = ['CamVidDataset']

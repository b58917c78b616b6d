"""mcl_mm's data sets: CamVid (``mcl_mm.CamVidDataset``); synthetic data in
:mod:`mcl_mm.datasets.synthetic`."""
from .camvid import CamVidDataset
from .cifar import CIFAR100Dataset  # noqa: F401
from .coco_person import CocoPersonJigsawDataset  # noqa: F401
from .imagenet import ImageNetDataset  # noqa: F401
from .samplers import ClassBalancedSampler  # noqa: F401

__all__ = ['CamVidDataset']

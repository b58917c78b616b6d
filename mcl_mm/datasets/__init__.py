"""mcl_mm's data sets: CamVid (``mcl_mm.CamVidDataset``), the synthetic CIFAR-100 set read by
mmpretrain's ``CIFAR100`` with its own checksums (``mcl_mm.SyntheticCIFAR100``), the COCO
person jigsaw set (``mcl_mm.CocoPersonJigsawDataset``); the class-balanced sampler
(``mcl_mm.ClassBalancedSampler``); synthetic data in :mod:`mcl_mm.testing.synthetic_data`."""
from mcl_mm.registry import DATASETS
from mcl_mm.utils.toolboxes import installed, register_unavailable

from .camvid import CamVidDataset
from .samplers import ClassBalancedSampler  # noqa: F401

if installed('mmpose'):
    from .coco_person import CocoPersonJigsawDataset  # noqa: F401
else:
    register_unavailable(DATASETS, 'CocoPersonJigsawDataset', 'mmpose')
if installed('mmpretrain'):
    from .synthetic_cifar import SyntheticCIFAR100  # noqa: F401
else:
    register_unavailable(DATASETS, 'SyntheticCIFAR100', 'mmpretrain')

__all__ = ['CamVidDataset']

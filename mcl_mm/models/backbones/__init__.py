"""Backbones that no installed toolbox provides: the classic CIFAR ResNet
(``mcl_mm.CIFARResNet``, built on mmpretrain's ``ResNet``)."""
from mcl_mm.registry import MODELS
from mcl_mm.utils.toolboxes import installed, register_unavailable

if installed('mmpretrain'):
    from .cifar_resnet import CIFARResNet  # noqa: F401
else:
    register_unavailable(MODELS, 'CIFARResNet', 'mmpretrain')

"""Backbones that no installed toolbox provides: the CIFAR ResNet (``mcl_mm.CIFARResNet``)."""
from mcl_mm.registry import MODELS
from mcl_mm.utils.toolboxes import installed, register_unavailable

if installed('mmdet'):
    from .cifar_resnet import CIFARResNet  # noqa: F401
else:
    register_unavailable(MODELS, 'CIFARResNet', 'mmdet')


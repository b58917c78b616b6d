"""Backbones that no installed toolbox provides: the CIFAR ResNet (``mcl_mm.CIFARResNet``)."""
from .cifar_resnet import CIFARResNet

__all__ = ['CIFARResNet']

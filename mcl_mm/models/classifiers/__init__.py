"""mcl_mm's minimal image classifier (``mcl_mm.ImageClassifier``)."""
from .image_classifier import ClsHead, ImageClassifier

__all__ = ['ClsHead', 'ImageClassifier']

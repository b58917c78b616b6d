from .cls_transforms import PackClsInputs, RandomCropPad, RandomResizedCrop, ResizeEdge  # noqa: F401

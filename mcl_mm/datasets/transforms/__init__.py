from .cls_transforms import PackClsInputs, RandomCropPad, RandomResizedCrop, ResizeEdge  # noqa: F401
from .jigsaw import JigsawShuffle  # noqa: F401

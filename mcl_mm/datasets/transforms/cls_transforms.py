"""Transforms of mcl_mm's image classification stack that mmcv 2.1 does not have.

mmcv covers loading (``LoadImageFromFile``), ``RandomFlip``, ``CenterCrop``, ``Resize``,
``Pad`` and ``Normalize``; these add the crops of the ImageNet and CIFAR recipes and the
packing into :class:`mcl_mm.structures.ClsDataSample` (mmpretrain has them, but it cannot be
imported here: it needs torchvision). Random numbers come from ``numpy.random`` (seeded by
MMEngine's ``randomness`` config per worker), as in mmcv's transforms.
"""
import math
from typing import Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mcl_mm.registry import TRANSFORMS
from mcl_mm.structures import ClsDataSample


def _hw(value: Union[int, Sequence[int]], key: str) -> Tuple[int, int]:
    """An int or (h, w) -> (h, w) of positive ints."""
    hw = (value, value) if isinstance(value, int) else tuple(value)
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise ValueError(f'{key} must be a positive int or (h, w), got {value!r}')
    return hw


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """``results`` -> ``dict(inputs=uint8 tensor (C, H, W), data_samples=ClsDataSample)``.

    The sample has ``gt_label`` (LongTensor (1,)) where ``results`` has ``gt_label`` and the
    metainfo ``meta_keys`` that ``results`` has (e.g. no ``img_path`` for CIFAR).
    mmengine's ``ImgDataPreprocessor`` then stacks, converts and normalises ``inputs``.

    Args:
        meta_keys (Sequence[str]): keys copied into the sample's metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                                             'scale_factor', 'flip', 'flip_direction')):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = ClsDataSample()
        if 'gt_label' in results:
            sample.set_gt_label(results['gt_label'])
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area and aspect ratio, then resize to ``scale`` (Inception / ImageNet).

    The crop covers a fraction of the image area drawn uniformly from ``crop_ratio_range``
    and has an aspect ratio (w / h) drawn log-uniformly from ``aspect_ratio_range``; after
    ``max_attempts`` draws that do not fit, the central crop of the largest area with an
    aspect ratio in the range is used (torchvision's algorithm).

    Args:
        scale (int | (h, w)): output size.
        crop_ratio_range (tuple): range of the crop's fraction of the image area.
        aspect_ratio_range (tuple): range of the crop's aspect ratio (w / h).
        max_attempts (int): draws before the central-crop fallback.
        interpolation (str): mmcv interpolation, e.g. 'bilinear', 'bicubic'.

    Updates ``img`` (H, W, C) -> (h, w, C) and ``img_shape``.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear'):
        self.scale = _hw(scale, 'RandomResizedCrop scale')
        lo, hi = crop_ratio_range
        if not 0 < lo <= hi <= 1:
            raise ValueError(f'RandomResizedCrop crop_ratio_range must satisfy 0 < lo <= hi '
                             f'<= 1, got {crop_ratio_range!r}')
        if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
            raise ValueError(f'RandomResizedCrop aspect_ratio_range must satisfy 0 < lo <= '
                             f'hi, got {aspect_ratio_range!r}')
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.interpolation = interpolation

    def crop_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """(y, x, crop_h, crop_w) of a random crop of an h x w image."""
        area = h * w
        log_ratio = (math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1]))
        for _ in range(self.max_attempts):
            target = np.random.uniform(*self.crop_ratio_range) * area
            ratio = math.exp(np.random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * ratio)))
            ch = int(round(math.sqrt(target / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                return np.random.randint(0, h - ch + 1), np.random.randint(0, w - cw + 1), ch, cw
        ratio = w / h  # fallback: central crop
        if ratio < self.aspect_ratio_range[0]:
            cw, ch = w, int(round(w / self.aspect_ratio_range[0]))
        elif ratio > self.aspect_ratio_range[1]:
            ch, cw = h, int(round(h * self.aspect_ratio_range[1]))
        else:
            ch, cw = h, w
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        img = results['img']
        y, x, ch, cw = self.crop_box(*img.shape[:2])
        img = mmcv.imresize(img[y:y + ch, x:x + cw], self.scale[::-1],
                            interpolation=self.interpolation)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, crop_ratio_range='
                f'{self.crop_ratio_range}, aspect_ratio_range={self.aspect_ratio_range})')


@TRANSFORMS.register_module()
class ResizeEdge(BaseTransform):
    """Resize keeping the aspect ratio so that one edge is ``scale`` pixels long.

    Args:
        scale (int): target length of the edge.
        edge (str): ``'short'``, ``'long'``, ``'width'`` or ``'height'``.
        interpolation (str): mmcv interpolation.

    Updates ``img``, ``img_shape`` and ``scale_factor`` (w_scale, h_scale).
    """
    EDGES = ('short', 'long', 'width', 'height')

    def __init__(self, scale: int, edge: str = 'short', interpolation: str = 'bilinear'):
        if not isinstance(scale, int) or scale <= 0:
            raise ValueError(f'ResizeEdge scale must be a positive int, got {scale!r}')
        if edge not in self.EDGES:
            raise ValueError(f'ResizeEdge edge={edge!r}: expected one of {self.EDGES}')
        self.scale = scale
        self.edge = edge
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        use_w = (self.edge == 'width' or (self.edge == 'short' and w <= h)
                 or (self.edge == 'long' and w > h))
        factor = self.scale / (w if use_w else h)
        size = (self.scale, int(round(h * factor))) if use_w else (int(round(w * factor)),
                                                                   self.scale)
        img = mmcv.imresize(img, size, interpolation=self.interpolation)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['scale_factor'] = (img.shape[1] / w, img.shape[0] / h)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale={self.scale}, edge={self.edge!r})'


@TRANSFORMS.register_module()
class RandomCropPad(BaseTransform):
    """Pad ``padding`` pixels of ``pad_val`` on every side, then crop ``size`` at a random
    place: the CIFAR augmentation (torchvision's ``RandomCrop(32, padding=4)``).

    Args:
        size (int | (h, w)): output size.
        padding (int): pixels added on each side before cropping.
        pad_val (int | float): value of the padded pixels.

    Updates ``img`` and ``img_shape``.
    """

    def __init__(self, size: Union[int, Sequence[int]], padding: int = 4,
                 pad_val: Union[int, float] = 0):
        self.size = _hw(size, 'RandomCropPad size')
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f'RandomCropPad padding must be an int >= 0, got {padding!r}')
        self.padding = padding
        self.pad_val = pad_val

    def transform(self, results: dict) -> dict:
        img = results['img']
        p = self.padding
        if p:
            img = mmcv.impad(img, padding=(p, p, p, p), pad_val=self.pad_val)
        h, w = img.shape[:2]
        ch, cw = self.size
        if ch > h or cw > w:
            raise ValueError(f'RandomCropPad size={self.size} is larger than the padded image '
                             f'({h}, {w})')
        y, x = np.random.randint(0, h - ch + 1), np.random.randint(0, w - cw + 1)
        results['img'] = img[y:y + ch, x:x + cw]
        results['img_shape'] = (ch, cw)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, padding={self.padding}, '
                f'pad_val={self.pad_val})')

"""Bring the dense tensors of different models onto one grid before a loss compares them.

Models differ in output stride (DeepLabV3: 1/8; SegFormer, UPerNet, Mask2Former: 1/4) and,
when each preprocesses the batch itself, in padding (a ``size`` or ``pad_size_divisor`` of
their own). Alignment works in input pixels:

1. the *common extent* is the smallest padded input (H, W) among the models: every model's
   input holds the images at its top-left corner, so this region is seen by all;
2. each (B, C, h, w) tensor is cropped to the cells that cover the common extent
   (``round(h * H / H_k)`` rows of a model whose padded input had H_k rows);
3. each is resized to the target grid: average pooling over the covered cells
   (``adaptive_avg_pool2d``) where the grid is coarser in both directions, bilinear
   interpolation (``align_corners=False``, antialiased where one side shrinks) otherwise.
   Features and logits are resized alike; labels are never interpolated: the losses take
   them at input resolution (cropped to the common extent) and pick the nearest label of
   each cell of their grid.

The target grid (``align`` of :class:`~mcl_mm.SegDistiller` and :class:`~mcl_mm.MCLCohort`):
``'smaller'`` (default: the grid with fewer cells, e.g. the 1/8 one of a 1/4-vs-1/8 pair,
which keeps the relation losses at the cost the papers use), ``'larger'``, the grid of a
named source (the distiller's ``'student'`` or ``'teacher'``), or an int stride ``s``
(``ceil(H / s) x ceil(W / s)`` of the common extent). Tensors already on the target grid are
passed through untouched, so models of equal stride and padding see exactly the unaligned
losses.
"""
import math
from typing import Dict, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

Size = Tuple[int, int]
GRIDS = ('smaller', 'larger')


def check_align(align: Union[str, int], key: str, sources: Sequence[str] = ()) -> None:
    """Raise a ValueError naming ``key`` unless ``align`` is a grid name or a stride."""
    if isinstance(align, bool) or not (align in GRIDS or align in tuple(sources) or
                                       (isinstance(align, int) and align >= 1)):
        raise ValueError(f'{key} must be one of {list(GRIDS) + list(sources)} or an int output '
                         f'stride >= 1, got {align!r}')


def common_extent(padded: Sequence[Size]) -> Size:
    """The padded input size every model covers: the smallest height and width."""
    return min(h for h, _ in padded), min(w for _, w in padded)


def crop_to_extent(x: Tensor, padded: Size, extent: Size) -> Tensor:
    """The cells of ``x`` (..., h, w), computed on an input padded to ``padded``, that cover
    the top-left ``extent`` of the input."""
    if tuple(padded) == tuple(extent):
        return x
    h, w = x.shape[-2:]
    rows = max(1, min(h, round(h * extent[0] / padded[0])))
    cols = max(1, min(w, round(w * extent[1] / padded[1])))
    return x[..., :rows, :cols]


def resize(x: Tensor, size: Size) -> Tensor:
    """(B, C, h, w) -> (B, C, *size): identity, average pooling or bilinear (see above)."""
    h, w = x.shape[-2:]
    size = (int(size[0]), int(size[1]))
    if (h, w) == size:
        return x
    if size[0] <= h and size[1] <= w:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False,
                         antialias=size[0] < h or size[1] < w)


def target_grid(align: Union[str, int], grids: Sequence[Tuple[str, Size]],
                extent: Size) -> Size:
    """The grid to align to.

    Args:
        align: see the module docstring.
        grids: (source name, (h, w)) of each tensor after cropping; ties of 'smaller' /
            'larger' go to the first, a named source means its first tensor's grid.
        extent: the common extent (H, W), for a stride.
    """
    if isinstance(align, int):
        return math.ceil(extent[0] / align), math.ceil(extent[1] / align)
    named = [size for source, size in grids if source == align]
    if named:
        return named[0]
    sizes = [size for _, size in grids]
    pick = min if align != 'larger' else max  # 'smaller', or a source with no dense tensor
    return pick(sizes, key=lambda s: s[0] * s[1])


def align_tensors(tensors: Sequence[Tensor], sources: Sequence[str], padded: Dict[str, Size],
                  align: Union[str, int]) -> list:
    """Align dense (B, C, h, w) tensors; other tensors pass through.

    Args:
        tensors: the tensors a loss compares.
        sources: the model each came from (a key of ``padded``).
        padded: source -> the padded input size (H, W) of that model's batch.
        align: the target grid (see the module docstring).
    """
    dense = [i for i, x in enumerate(tensors) if isinstance(x, Tensor) and x.dim() == 4]
    if not dense:
        return list(tensors)
    extent = common_extent([padded[sources[i]] for i in dense])
    out = list(tensors)
    for i in dense:
        out[i] = crop_to_extent(tensors[i], padded[sources[i]], extent)
    size = target_grid(align, [(sources[i], tuple(out[i].shape[-2:])) for i in dense], extent)
    for i in dense:
        out[i] = resize(out[i], size)
    return out

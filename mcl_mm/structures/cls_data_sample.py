"""The data sample of mcl_mm's image classification stack (``mcl_mm.ImageClassifier``).

mmpretrain's ``DataSample`` would be the stock choice, but mmpretrain imports torchvision,
which does not load with this project's CPU torch; this is the small subset mcl_mm needs.
"""
from numbers import Integral
from typing import Sequence, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement

LabelLike = Union[int, Sequence[int], np.ndarray, torch.Tensor]


def to_label_tensor(value: LabelLike) -> torch.Tensor:
    """An int, a sequence of ints, an array or a tensor -> LongTensor (N,) (int -> (1,))."""
    if isinstance(value, torch.Tensor):
        label = value.reshape(-1)
    elif isinstance(value, np.ndarray):
        label = torch.from_numpy(value).reshape(-1)
    elif isinstance(value, Integral):
        label = torch.tensor([int(value)])
    elif isinstance(value, Sequence) and not isinstance(value, str):
        label = torch.tensor([int(v) for v in value], dtype=torch.long)
    else:
        raise TypeError(f'a label must be an int, a sequence of ints, an array or a tensor, '
                        f'got {type(value).__name__}')
    if label.is_floating_point() or label.is_complex() or label.dtype == torch.bool:
        raise TypeError(f'a label must hold integers, got dtype {label.dtype}')
    return label.long()


class ClsDataSample(BaseDataElement):
    """One image's classification annotation and prediction.

    Data fields:

    - ``gt_label``: LongTensor (1,), the ground-truth class index.
    - ``pred_score``: float tensor (K,), the class probabilities (softmax of the logits).
    - ``pred_label``: LongTensor (1,), the arg-max of ``pred_score``.

    Metainfo (set by ``mcl_mm.PackClsInputs``): ``sample_idx``, ``img_path`` (file-based
    data sets), ``ori_shape`` and ``img_shape`` ((h, w)), and ``scale_factor``/``flip``/
    ``flip_direction`` where a transform set them.

    The fields are plain data fields (``sample.gt_label = ...`` works too, and
    ``to_dict()`` gives the keys ``gt_label``, ``pred_score``, ``pred_label`` that
    ``mcl_mm.Accuracy`` reads); the ``set_*`` methods convert ints, sequences and arrays.
    """

    def set_gt_label(self, value: LabelLike) -> 'ClsDataSample':
        """Set ``gt_label`` (LongTensor (1,)) from an int, a sequence, an array or a tensor."""
        self.set_field(to_label_tensor(value), 'gt_label', dtype=torch.Tensor)
        return self

    def set_pred_label(self, value: LabelLike) -> 'ClsDataSample':
        """Set ``pred_label`` (LongTensor (1,))."""
        self.set_field(to_label_tensor(value), 'pred_label', dtype=torch.Tensor)
        return self

    def set_pred_score(self, value: torch.Tensor) -> 'ClsDataSample':
        """Set ``pred_score`` from a float tensor (K,)."""
        if not isinstance(value, torch.Tensor) or value.ndim != 1:
            raise ValueError(f'pred_score must be a tensor (K,), got '
                             f'{getattr(value, "shape", type(value).__name__)}')
        self.set_field(value, 'pred_score', dtype=torch.Tensor)
        return self

"""A minimal image classifier, for pre-training backbones that mmdet/mmseg then fine-tune.

MCL pre-trains classification backbones on ImageNet and CIFAR-100 and transfers them into
detection and segmentation. mmpretrain would be the stock choice, but it imports
torchvision, whose wheels do not load with this project's CPU torch; so mcl_mm has this small
stack of its own: backbone -> global average pooling -> linear layer, cross-entropy loss.
Nothing more (no necks, mixup, multi-label or TTA).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel, BaseModule
from torch import nn

from mcl_mm.registry import MODELS
from mcl_mm.structures import ClsDataSample

# mmengine's ImgDataPreprocessor with the ImageNet mean/std (RGB, 0..255)
DEFAULT_DATA_PREPROCESSOR = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)


class ClsHead(BaseModule):
    """Global average pooling of the last feature map, then ``fc``: (B, C) -> (B, K) logits.

    Args:
        num_classes (int): K.
        in_channels (int): C, the channels of the backbone's last output.
        loss_weight (float): weight of the cross-entropy loss.
        label_smooth (float): label smoothing of the cross-entropy loss, in [0, 1).
        topk (Sequence[int]): accepted for compatibility with mmpretrain's head configs and
            kept as ``self.topk``; the losses do not use it (``mcl_mm.Accuracy`` has its own).
        init_cfg (dict): default: ``fc`` weights from N(0, 0.01), bias 0 (mmpretrain's).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss_weight: float = 1.0,
                 label_smooth: float = 0.0,
                 topk: Sequence[int] = (1, 5),
                 init_cfg: Optional[dict] = dict(type='Normal', layer='Linear', std=0.01)):
        super().__init__(init_cfg=init_cfg)
        for key, value in (('num_classes', num_classes), ('in_channels', in_channels)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f'model.head.{key} must be a positive int, got {value!r}')
        if not 0.0 <= label_smooth < 1.0:
            raise ValueError(f'model.head.label_smooth must be in [0, 1), got {label_smooth!r}')
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or not all(isinstance(k, int) and k > 0 for k in topk):
            raise ValueError(f'model.head.topk must be positive ints, got {topk!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.loss_weight = loss_weight
        self.label_smooth = label_smooth
        self.topk = topk
        self.fc = nn.Linear(in_channels, num_classes)

    def pre_logits(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Backbone outputs (last one (B, C, H, W), or (B, C)) -> pooled features (B, C)."""
        x = feats[-1]
        if x.dim() == 4:
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'model.head.in_channels={self.in_channels} does not match the '
                             f'backbone output of shape {tuple(feats[-1].shape)}')
        return x

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Backbone outputs -> logits (B, K)."""
        return self.fc(self.pre_logits(feats))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> dict:
        """logits (B, K), labels (B,) long -> ``dict(loss_cls=scalar)``."""
        loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smooth)
        return dict(loss_cls=self.loss_weight * loss)


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """backbone -> global average pooling -> ``head.fc``, trained with cross entropy.

    The backbone is any backbone in the config's scope, built by the registry (e.g.
    ``dict(type='ResNet', depth=18)`` in the mmseg scope, ``'mmdet.ResNet'``,
    ``'mcl_mm.CIFARResNet'``), so its ``backbone.*`` state-dict keys are those of the stock
    backbone and load directly into mmdet/mmseg models: strip the ``backbone.`` prefix, or
    point an mmdet/mmseg backbone's ``init_cfg=dict(type='Pretrained',
    prefix='backbone.', checkpoint=...)`` at the checkpoint. mmdet's ``ResNet`` defaults
    to ``norm_eval=True`` (frozen BN statistics, for fine-tuning); set ``norm_eval=False``
    to train it from scratch here (mmseg's ``ResNet`` and ``mcl_mm.CIFARResNet`` default to
    False).

    Modules: ``backbone`` (its outputs are the stage features) and ``head`` (a
    :class:`ClsHead`; ``head.fc`` gives the logits).

    Args:
        backbone (dict): backbone config; its last output feeds the head.
        head (dict): :class:`ClsHead` arguments: ``num_classes``, ``in_channels``,
            ``loss_weight=1.0``, ``label_smooth=0.0``, ``topk=(1, 5)``.
        data_preprocessor (dict, optional): default mmengine's ``ImgDataPreprocessor`` with
            the ImageNet mean/std and ``bgr_to_rgb=True``; a dict without ``type`` updates
            that default.
        init_cfg (dict, optional): MMEngine initialisation config.

    ``forward(inputs, data_samples, mode)``, ``inputs`` (B, 3, H, W) preprocessed:

    - ``'loss'``: ``dict(loss_cls=...)``; ``data_samples`` are :class:`ClsDataSample`
      with ``gt_label``.
    - ``'predict'``: the data samples (new ones if None) with ``pred_score`` (K,) softmax
      probabilities and ``pred_label`` (1,).
    - ``'tensor'``: logits (B, K).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(DEFAULT_DATA_PREPROCESSOR)
        elif isinstance(data_preprocessor, dict) and 'type' not in data_preprocessor:
            data_preprocessor = {**DEFAULT_DATA_PREPROCESSOR, **data_preprocessor}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(backbone, dict) or 'type' not in backbone:
            raise ValueError(f"model.backbone must be a backbone config dict with 'type', "
                             f'got {backbone!r}')
        if not isinstance(head, dict):
            raise ValueError(f'model.head must be a dict of ClsHead arguments, got {head!r}')
        head = dict(head)
        if head.pop('type', 'ClsHead') not in ('ClsHead', 'LinearClsHead'):
            raise ValueError('model.head: ImageClassifier has one head, a linear layer over '
                             'pooled features; give its arguments without a type')
        self.backbone = MODELS.build(backbone)
        self.head = ClsHead(**head)

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """inputs (B, 3, H, W) -> the backbone's outputs, a tuple of (B, C_i, H_i, W_i)."""
        feats = self.backbone(inputs)
        return tuple(feats) if isinstance(feats, (tuple, list)) else (feats, )

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[ClsDataSample]] = None,
                mode: str = 'tensor') -> Union[dict, List[ClsDataSample], torch.Tensor]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        raise ValueError(f"Invalid mode {mode!r}: expected 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: torch.Tensor, data_samples: List[ClsDataSample]) -> dict:
        """Cross entropy of the logits against the samples' ``gt_label``."""
        if not data_samples or not all('gt_label' in s for s in data_samples):
            raise ValueError("ImageClassifier 'loss' mode needs data samples with gt_label")
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        return self.head.loss(self.head(self.extract_feat(inputs)), labels)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[ClsDataSample]] = None) -> List[ClsDataSample]:
        """Softmax scores (K,) and arg-max labels (1,) per image."""
        scores = F.softmax(self.head(self.extract_feat(inputs)), dim=1)
        if data_samples is None:
            data_samples = [ClsDataSample() for _ in range(scores.shape[0])]
        for sample, score in zip(data_samples, scores.detach()):
            sample.set_pred_score(score).set_pred_label(score.argmax(keepdim=True))
        return data_samples

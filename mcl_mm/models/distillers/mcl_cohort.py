"""Mutual Contrastive Learning (MCL, Yang et al., AAAI 2022; layer-wise L-MCL, TPAMI 2023).

A cohort of N stock models trained online together, teacher-free, in one path:
batch -> every member (its own task losses, logged ``m{k}.<name>``) -> embeddings recorded
by module name -> MCL losses between members (``loss_vcl``, ``loss_soft_vcl``, ``loss_icl``,
``loss_soft_icl``) -> optional logit mutual KD -> optional layer-wise terms -> log.
Everything that only serves training (projection heads, memories, auxiliary branches,
aggregators) lives outside the members, so member k exported alone is the stock model.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mcl_mm.registry import MODELS

from ..align import align_tensors, check_align, common_extent
from ..errors import config_key, infer_channels
from ..model_group import ModelGroup
from ..necks import AuxiliaryBranches, StageAggregator
from ..recorder import ModuleRecorder


# batch augmentations that mix the images of a batch (mmpretrain's), by class name
_MIXING = ('Mixup', 'CutMix', 'ResizeMix')


def _mixing_augments(preprocessor: nn.Module) -> List[str]:
    """Class names of the image-mixing batch augmentations a data preprocessor runs."""
    found, todo = [], [getattr(preprocessor, 'batch_augments', None)]
    while todo:
        augment = todo.pop()
        if augment is None:
            continue
        if isinstance(augment, (list, tuple, nn.ModuleList)):
            todo.extend(augment)
            continue
        if any(c.__name__ in _MIXING for c in type(augment).__mro__):
            found.append(type(augment).__name__)
        todo.extend(getattr(augment, 'augments', None) or [])
    return sorted(found)


def _per_member(cfg, n: int, key: str) -> List[dict]:
    if cfg is None:
        return [None] * n
    if isinstance(cfg, dict):
        return [dict(cfg) for _ in range(n)]
    if len(cfg) != n:
        raise ValueError(f'{key} gives {len(cfg)} entries for {n} members')
    return [dict(c) for c in cfg]


@MODELS.register_module()
class MCLCohort(ModelGroup):
    """A cohort of N >= 2 stock models trained with mutual contrastive learning.

    Members are mmseg segmentors, mmdet detectors or classifiers, homogeneous or not (see
    :class:`~mcl_mm.models.ModelGroup` for how they are given, initialised and preprocessed,
    and how ``predict_member`` works). Each member's embedding is recorded by module name
    (:mod:`mcl_mm.models.recorder`: ``dict(module=NAME, io='output', index=None,
    transform=None)``):

    * ``level='image'``: the recorded tensor, global-average pooled if it is (B, C, H, W), e.g.
      the last backbone stage ``dict(module='backbone', index=-1)``. Labels are the
      classifiers' ``gt_label``; detectors and segmentors are label-free (the positive of an
      anchor is the same image in the other member).
    * ``level='pixel'`` (segmentors): a dense head feature, e.g.
      ``dict(module='decode_head.conv_seg', io='input')``, with the batch's ``gt_sem_seg`` as
      labels; the loss samples a bounded number of pixels per class (``pixel_sampling``).
      Members of different output strides or padding are brought onto one grid first
      (``align``, :mod:`mcl_mm.models.align`), and so are their logits for ``mutual_kd``.

    Args:
        members (list[dict]): N >= 2 model configs.
        embeddings (dict | list[dict]): recorder per member (or one for all).
        mcl_loss (dict): the :class:`~mcl_mm.models.losses.MCLLoss` config; its
            ``in_channels`` (the members' embedding channels; one list per member for
            ``layerwise``: one entry per stage view) may be left out where every embedding
            recorder names a convolution or linear layer.
        level (str): 'image' or 'pixel'.
        logits (dict | list[dict], optional): recorder of each member's logits (e.g.
            ``dict(module='head.fc')``, ``dict(module='decode_head.conv_seg')``, or
            ``dict(module='decode_head', transform='query_seg_logits')`` for a Mask2Former),
            needed by ``mutual_kd`` and ``layerwise``.
        mutual_kd (dict, optional): a :class:`~mcl_mm.models.losses.MutualKDLoss` config:
            each member's logits toward the detached cohort mean, logged ``loss_mutual_kd``.
        layerwise (dict, optional): L-MCL for classifier members:
            ``dict(stages=['layer1', ..., 'layer4'], blocks_per_stage=1, kd_temperature=3.0,
            kd_weight=1.0)``. An auxiliary branch follows every backbone stage but the last;
            the views of member i are [branch 0, ..., branch S-2, pooled last stage]; every
            view of member i is contrasted with every view of member j; per member an
            aggregator fuses the stage logits (cross-entropy ``m{i}.loss_aux{s}``,
            ``m{i}.loss_agg``) and each member's final logits learn toward every member's
            detached aggregate (``loss_lmcl_kd``, KL at ``kd_temperature``).
        align (str | int): grid of the dense embeddings and logits: 'smaller' (default),
            'larger' or an output stride (see :mod:`mcl_mm.models.align`).
        predict_member (int | str): member used in ``predict``/``tensor`` modes, or 'all'.
        data_preprocessor (dict, optional): see :class:`~mcl_mm.models.ModelGroup`.
        init_cfg (dict, optional): MMEngine initialisation config.
        pretrained, train_cfg: None only (see :class:`~mcl_mm.models.ModelGroup`).
    """

    def __init__(self,
                 members: Sequence[dict],
                 embeddings: Union[dict, Sequence[dict]],
                 mcl_loss: dict,
                 level: str = 'image',
                 logits: Union[None, dict, Sequence[dict]] = None,
                 mutual_kd: Optional[dict] = None,
                 layerwise: Optional[dict] = None,
                 align: Union[str, int] = 'smaller',
                 predict_member: Union[int, str] = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 pretrained: None = None,
                 train_cfg: None = None):
        if not isinstance(members, Sequence) or len(members) < 2:
            raise ValueError('model.members: an MCL cohort needs at least 2 members, got '
                             f'{len(members) if isinstance(members, Sequence) else members!r}')
        super().__init__(members, predict_member, data_preprocessor, init_cfg, pretrained,
                         train_cfg)
        if self.per_member_preprocessing:
            for k, member in enumerate(self.members):
                mixing = _mixing_augments(member.data_preprocessor)
                if mixing:
                    raise ValueError(
                        f'model.members[{k}] mixes the images of a batch ({", ".join(mixing)}'
                        ': batch_augments of its data_preprocessor, or mmpretrain\'s '
                        'train_cfg.augments), and the members preprocess apart (their '
                        'data_preprocessor or train_cfg.augments differ), so each member would '
                        'mix other pairs: MCL pairs sample i across members, which would then '
                        'be different images. Give every member the same data_preprocessor and '
                        'train_cfg.augments (one shared pass, one mix), or none that mixes')
        if level not in ('image', 'pixel'):
            raise ValueError(f"model.level must be 'image' or 'pixel', got {level!r}")
        check_align(align, 'model.align')
        self.level = level
        self.align = align
        n = len(self.members)

        self.embed_recorders = [
            ModuleRecorder(m, c, f'model.embeddings[{k}]')
            for k, (m, c) in enumerate(zip(self.members, _per_member(embeddings, n,
                                                                     'model.embeddings')))]
        if (mutual_kd or layerwise) and logits is None:
            raise ValueError('model.logits must name each member\'s logits module (e.g. '
                             "dict(module='head.fc')) for model.mutual_kd / model.layerwise")
        self.logit_recorders = [
            None if c is None else ModuleRecorder(m, c, f'model.logits[{k}]')
            for k, (m, c) in enumerate(zip(self.members, _per_member(logits, n,
                                                                     'model.logits')))]

        mcl_loss = dict(mcl_loss)
        if layerwise is None:  # one view per member: its channels are the recorder's
            given = mcl_loss.get('in_channels') or [None] * n
            channels = {f'in_channels[{k}]': c for k, c in enumerate(given)}
            for k, rec in enumerate(self.embed_recorders[:len(given)]):
                infer_channels(channels, 'model.mcl_loss', f'in_channels[{k}]', rec)
            mcl_loss['in_channels'] = [channels[f'in_channels[{k}]'] for k in range(len(given))]
        with config_key('model.mcl_loss'):
            self.mcl_loss = MODELS.build(mcl_loss)
        with config_key('model.mutual_kd'):
            self.mutual_kd = None if mutual_kd is None else MODELS.build(mutual_kd)
        classes = [getattr(m, 'num_classes', None) for m in self.members]
        if mutual_kd is not None and len({c for c in classes if c is not None}) > 1:
            raise ValueError(f'model.mutual_kd distils logits between members that predict '
                             f'the same classes; num_classes of model.members: {classes}')

        self.layerwise = None
        self.stage_recorders: List[List[ModuleRecorder]] = []
        if layerwise is not None:
            self._build_layerwise(dict(layerwise), level)

    def _build_layerwise(self, layerwise: dict, level: str) -> None:
        if level != 'image':
            raise ValueError("model.layerwise works with level='image' classifier members")
        stages = list(layerwise.pop('stages'))
        self.kd_temperature = layerwise.pop('kd_temperature', 3.0)
        self.kd_weight = layerwise.pop('kd_weight', 1.0)
        blocks = layerwise.pop('blocks_per_stage', 1)
        if layerwise:
            raise ValueError(f'model.layerwise: unknown keys {sorted(layerwise)}')
        self.layerwise = nn.ModuleList()
        self.aggregators = nn.ModuleList()
        for k, member in enumerate(self.members):
            fc = self.logit_recorders[k].module
            if not isinstance(fc, nn.Linear):
                raise ValueError(f'model.logits[{k}] must name the classifier\'s final '
                                 'nn.Linear for model.layerwise')
            branches = AuxiliaryBranches(member.backbone, stages, fc.out_features, blocks)
            self.layerwise.append(branches)
            self.aggregators.append(StageAggregator(branches.channels, len(stages)))
            self.stage_recorders.append([
                ModuleRecorder(member, dict(module=f'backbone.{s}'),
                               f'model.layerwise.stages[{j}]')
                for j, s in enumerate(stages[:-1])])

    def loss(self, inputs, data_samples: list) -> Dict[str, Tensor]:
        # labels and sample indices first: a member's stock loss may edit its samples
        batches = self.member_batches(inputs, data_samples)
        padded = {f'm{k}': self.padded_size(b[0]) for k, b in enumerate(batches)}
        samples = batches[0][1]
        labels = self._labels(samples, common_extent(list(padded.values())))
        sample_idx = self._sample_idx(samples)
        losses = super().forward(inputs, data_samples, mode='loss')
        feats = [self._embedding(k) for k in range(len(self.members))]
        if self.level == 'pixel':
            feats = align_tensors(feats, list(padded), padded, self.align)
        if self.layerwise is not None:
            feats = self._layerwise(feats, labels, losses)
        with config_key('model.mcl_loss'):
            losses.update(self.mcl_loss(feats, labels=labels, sample_idx=sample_idx))
        if self.mutual_kd is not None:
            logits = align_tensors([rec.get() for rec in self.logit_recorders], list(padded),
                                   padded, self.align)
            with config_key('model.mutual_kd'):
                losses['loss_mutual_kd'] = self.mutual_kd(logits)
        self._clear()
        return losses

    def forward(self, inputs, data_samples: Optional[list] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    # --- inputs of the losses -------------------------------------------------------------
    def _embedding(self, k: int) -> Tensor:
        x = self.embed_recorders[k].get()
        if self.level == 'image' and x.dim() == 4:
            x = x.mean(dim=(2, 3))
        return x

    def _labels(self, data_samples: list, extent) -> Optional[Tensor]:
        first = data_samples[0]
        if self.level == 'pixel':
            if 'gt_sem_seg' not in first:
                raise ValueError("model.level='pixel' needs segmentation labels (gt_sem_seg)")
            labels = torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
            return labels[:, :extent[0], :extent[1]]
        if 'gt_label' in first:
            return torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples]).long()
        return None

    @staticmethod
    def _sample_idx(data_samples: list) -> Optional[Tensor]:
        if all('sample_idx' in s.metainfo for s in data_samples):
            return torch.tensor([s.metainfo['sample_idx'] for s in data_samples])
        return None

    def _layerwise(self, feats: List[Tensor], labels: Optional[Tensor],
                   losses: Dict[str, Tensor]) -> List[List[Tensor]]:
        """Auxiliary branches, aggregators and their losses; returns each member's views."""
        if labels is None:
            raise ValueError('model.layerwise needs classification labels (gt_label)')
        views, finals, aggregated = [], [], []
        for k, (branches, aggregator) in enumerate(zip(self.layerwise, self.aggregators)):
            aux_feats, aux_logits = branches([r.get() for r in self.stage_recorders[k]])
            final = self.logit_recorders[k].get()
            for s, logit in enumerate(aux_logits):
                losses[f'm{k}.loss_aux{s}'] = F.cross_entropy(logit, labels)
            member_views = aux_feats + [feats[k]]
            agg = aggregator(member_views, aux_logits + [final])
            losses[f'm{k}.loss_agg'] = F.cross_entropy(agg, labels)
            views.append(member_views)
            finals.append(final)
            aggregated.append(agg.detach())
        T = self.kd_temperature
        kd = sum(F.kl_div(F.log_softmax(f.float() / T, dim=1), F.softmax(a.float() / T, dim=1),
                          reduction='batchmean') * T * T
                 for f in finals for a in aggregated)
        losses['loss_lmcl_kd'] = kd * self.kd_weight
        return views

    def _clear(self) -> None:
        recorders = self.embed_recorders + [r for r in self.logit_recorders if r is not None]
        for recs in self.stage_recorders:
            recorders += recs
        for rec in recorders:
            rec.clear()

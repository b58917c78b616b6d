"""A group of stock models trained side by side on the same batches."""
import copy
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from torch import nn

from mcl_mm.registry import MODELS

from .builder import build_task_model


@MODELS.register_module()
class ModelGroup(BaseModel):
    """N stock models (segmentors, detectors, pose estimators) trained independently.

    This is "independent training", the baseline that cohort methods such as MCL are
    compared with, and the container the teacher-student and cohort models build on.
    Members are stock models of the task toolbox, each given inline (built in the
    config's ``default_scope``) or as ``dict(cfg_path='mmseg::...', **overrides)``.

    The batch is preprocessed once, by ``data_preprocessor`` (default: the first member's
    own data preprocessor); each member computes its stock losses, logged as
    ``m{k}.<loss name>`` (e.g. ``m0.loss_ce``, ``m1.decode.loss_ce``) and summed by the
    optimizer wrapper. ``predict``/``test_step`` return member ``predict_member``'s
    predictions, so stock loops, metrics and visualisers treat the group like that member.
    With ``predict_member='all'`` every member predicts (member 0 into the data samples,
    the others into copies); the returned samples are member 0's, and each carries all
    members' predicted samples in ``member_samples`` (a list), which
    :class:`~mcl_mm.evaluation.MemberMetric` scores member by member.

    Args:
        members (list[dict]): model configs, at least one.
        predict_member (int | str): index of the member used for ``predict`` and ``tensor``
            modes, or ``'all'`` (``predict`` by every member, ``tensor`` by member 0).
        data_preprocessor (dict, optional): overrides the first member's preprocessor.
            Note that MMEngine's Runner fills it from the config's top-level
            ``data_preprocessor`` (mmseg configs define one) when the model dict has none.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 members: Sequence[dict],
                 predict_member: Union[int, str] = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(members, Sequence) or len(members) == 0:
            raise ValueError('model.members must be a non-empty list of model configs')
        if predict_member != 'all' and not (isinstance(predict_member, int)
                                            and 0 <= predict_member < len(members)):
            raise ValueError(f"model.predict_member={predict_member!r}: expected 'all' or a "
                             f'member index in [0, {len(members)})')
        built = [build_task_model(m, f'model.members[{k}]') for k, m in enumerate(members)]
        super().__init__(
            data_preprocessor=data_preprocessor or built[0].data_preprocessor,
            init_cfg=init_cfg)
        self.members = nn.ModuleList(built)
        self.predict_member = predict_member

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list, torch.Tensor]:
        """``inputs``: the preprocessed batch, e.g. (B, 3, H, W); ``mode``: loss/predict/tensor."""
        if mode == 'loss':
            losses = {}
            for k, member in enumerate(self.members):
                for name, value in member(inputs, data_samples, mode='loss').items():
                    losses[f'm{k}.{name}'] = value
            return losses
        if mode == 'predict' and self.predict_member == 'all':
            return self.predict_all(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            k = 0 if self.predict_member == 'all' else self.predict_member
            return self.members[k](inputs, data_samples, mode=mode)
        raise ValueError(f"Invalid mode {mode!r}: expected 'loss', 'predict' or 'tensor'")

    def predict_all(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> list:
        """Every member's predictions: member 0's samples, each with ``member_samples``.

        Member 0 predicts into ``data_samples`` as a stock model does; the others into copies.
        """
        per_member = [member(inputs, data_samples if k == 0 else copy.deepcopy(data_samples),
                             mode='predict')
                      for k, member in enumerate(self.members)]
        results = []
        for i, sample in enumerate(per_member[0]):
            result = sample.new()  # shares the tensors; no cycle through member_samples
            result.member_samples = [samples[i] for samples in per_member]
            results.append(result)
        return results

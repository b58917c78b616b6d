"""Test-time augmentation of every member of a cohort or model group.

The toolboxes' TTA models (mmseg's ``SegTTAModel``, mmdet's ``DetTTAModel``, mmpretrain's
``AverageClsScoreTTA``) run the model on each augmented view and merge the views' top-level
predictions. A model that predicts with every member (``predict_member='all'``) carries each
member's prediction in ``member_samples`` (read by :class:`mcl_mm.MemberMetric`), which the
stock merge copies from the first view only: the members would be scored without TTA, on
one flipped view, without a word. Here the stock TTA model merges each member's views as it
merges a stock model's; tools/test.py ``--tta`` uses it for such models.
"""
from typing import List

from mmengine.model import BaseTTAModel

from mcl_mm.registry import MODELS


@MODELS.register_module()
class MemberTTAModel(BaseTTAModel):
    """Args:
        tta_model (dict): the toolbox's TTA model config (``cfg.tta_model``), e.g.
            ``dict(type='SegTTAModel')``; it merges each member's views.
        module (dict | nn.Module): the cohort / model group, with ``predict_member='all'``.
    """

    def __init__(self, tta_model: dict, module, data_preprocessor=None):
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if getattr(self.module, 'predict_member', None) != 'all' or not hasattr(
                self.module, 'members'):
            raise ValueError("mcl_mm.MemberTTAModel needs a model with members that predicts "
                             "with every member (model.predict_member='all')")
        # one stock TTA model per member, kept out of the module tree: the members are
        # self.module's (a plain list: no second copy in state_dict or parameters())
        self.member_tta = [MODELS.build(dict(tta_model, module=member))
                           for member in self.module.members]

    def merge_preds(self, data_samples_list: List[list]) -> list:
        """``data_samples_list[i][v]``: sample i's prediction on view v (member 0's, with
        ``member_samples``) -> merged samples, each with its members' merged samples."""
        # the top-level prediction is member 0's (ModelGroup.predict_all)
        merged = self.member_tta[0].merge_preds(data_samples_list)
        per_member = [tta.merge_preds([[view.member_samples[k] for view in views]
                                       for views in data_samples_list])
                      for k, tta in enumerate(self.member_tta)]
        for i, sample in enumerate(merged):
            sample.member_samples = [samples[i] for samples in per_member]
        return merged

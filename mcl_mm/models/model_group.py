"""A group of stock models trained side by side on the same batches."""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel, ModuleList

from mcl_mm.registry import MODELS

from .builder import resolve_model_cfg
from .errors import check_init_model_keys
from .multi_model_preprocessor import PerModelBatch, composite_preprocessor

_PLAIN = (bool, int, float, str, type(None))


class MemberAttribute:
    """``group.<name>`` for an attribute that every member has (``runner.model.bbox_head``
    as toolbox hooks read it): writes and calls go to every member, reads of plain values
    give the members' common value, reads of objects give a :class:`MemberAttribute` again.

    So mmdet's ``YOLOXModeSwitchHook`` (``model.bbox_head.use_l1 = True``) switches every
    member of a YOLOX cohort.
    """

    def __init__(self, name: str, values: list):
        object.__setattr__(self, '_name', name)
        object.__setattr__(self, '_values', values)

    def __getattr__(self, attr: str):
        if attr.startswith('__'):
            raise AttributeError(attr)
        return member_attribute(f'{self._name}.{attr}',
                                [getattr(v, attr) for v in self._values])

    def __setattr__(self, attr: str, value) -> None:
        for v in self._values:
            setattr(v, attr, value)

    def __call__(self, *args, **kwargs):
        results = [v(*args, **kwargs) for v in self._values]
        return None if all(r is None for r in results) else results

    def __repr__(self) -> str:
        return f'MemberAttribute({self._name!r}, {len(self._values)} members)'


def member_attribute(name: str, values: list):
    """The members' common plain value, or a :class:`MemberAttribute` over objects."""
    first = values[0]
    if isinstance(first, _PLAIN):
        if any(v != first for v in values[1:]):
            # an AttributeError: ``hasattr(group, name)`` is False, the group has no one value
            raise AttributeError(f'the members differ in {name} ({values}): read it from '
                                 'model.members[k]')
        return first
    return MemberAttribute(name, values)


@MODELS.register_module()
class ModelGroup(BaseModel):
    """N stock models (segmentors, detectors, pose estimators, classifiers) trained
    independently on the same batches.

    This is "independent training", the baseline that cohort methods such as MCL are
    compared with, and the container the cohort models build on. Members are stock models of
    the task toolbox, each given inline (built in the config's ``default_scope``) or as
    ``dict(cfg_path='mmseg::...', **overrides)``. Each member is initialised by its own
    ``init_cfg`` (pretrained backbones, head priors) exactly as it would be alone.

    Preprocessing: each member sees the batch through its own data preprocessor (members
    with equal preprocessor configs share one pass; see
    :mod:`mcl_mm.models.multi_model_preprocessor`). Each member computes its stock losses,
    logged as ``m{k}.<loss name>`` (e.g. ``m0.loss_ce``, ``m1.decode.loss_ce``) and summed by
    the optimizer wrapper. ``predict``/``test_step`` return member ``predict_member``'s
    predictions, so stock loops, metrics and visualisers treat the group like that member.
    With ``predict_member='all'`` every member predicts (member 0 into the data samples, the
    others into copies); the returned samples are member 0's, and each carries all members'
    predicted samples in ``member_samples`` (a list), which
    :class:`~mcl_mm.evaluation.MemberMetric` scores member by member.

    Attributes that are not the group's own but every member's (``bbox_head``,
    ``set_epoch``) reach all members (:class:`MemberAttribute`), so toolbox hooks that reach
    into the model work on a group.

    Args:
        members (list[dict]): model configs, at least one.
        predict_member (int | str): index of the member used for ``predict`` and ``tensor``
            modes, or ``'all'`` (``predict`` by every member, ``tensor`` by member 0).
        data_preprocessor (dict, optional): one preprocessor for all members; it must equal
            each member's own (an error names the differing keys). MMEngine's Runner fills it
            from the config's top-level ``data_preprocessor`` when the model dict has none:
            set it to None to let each member use its own.
        init_cfg (dict, optional): MMEngine initialisation config.
        pretrained, train_cfg: None only: ``mmseg.apis.init_model`` sets both on any config
            (members have their own).
    """

    def __init__(self,
                 members: Sequence[dict],
                 predict_member: Union[int, str] = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 pretrained: None = None,
                 train_cfg: None = None):
        check_init_model_keys(type(self).__name__, 'model.members[k]', pretrained, train_cfg)
        if not isinstance(members, Sequence) or len(members) == 0:
            raise ValueError('model.members must be a non-empty list of model configs')
        if predict_member != 'all' and not (isinstance(predict_member, int)
                                            and 0 <= predict_member < len(members)):
            raise ValueError(f"model.predict_member={predict_member!r}: expected 'all' or a "
                             f'member index in [0, {len(members)})')
        keys = [f'model.members[{k}]' for k in range(len(members))]
        unused_from = []
        cfgs = [resolve_model_cfg(m, key, unused_from) for m, key in zip(members, keys)]
        # copies: a model may fill in its config (mmpretrain's ImageClassifier sets the type
        # of its data_preprocessor), and the configs are compared as given below
        built = [MODELS.build(copy.deepcopy(cfg)) for cfg in cfgs]
        preprocessor, per_member = composite_preprocessor(built, cfgs, keys, data_preprocessor)
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        # mmengine's ModuleList: init_weights reaches every member's own init_cfg
        self.members = ModuleList(built)
        self.predict_member = predict_member
        self.per_member_preprocessing = per_member
        # members whose configs set find_unused_parameters=True (mcl_mm.Runner carries it)
        self.unused_parameters_from = unused_from

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            members = self.__dict__.get('_modules', {}).get('members')
            if members is None or name.startswith('__') or \
                    not all(hasattr(m, name) for m in members):
                raise
            return member_attribute(name, [getattr(m, name) for m in members])

    def stock_parts(self) -> List[Tuple[str, str, torch.nn.Module]]:
        """``('members.k', 'model.members[k]', member)`` (state-dict prefix, config key,
        module): the stock models a toolbox's optimizer constructor (layer-wise decay) is
        applied to one by one
        (:class:`~mcl_mm.engine.partwise_optim_constructor.PartwiseOptimWrapperConstructor`)
        and that a stock checkpoint may be meant for
        (:func:`mcl_mm.engine.checkpoint.check_load_from_fits`)."""
        return [(f'members.{k}', f'model.members[{k}]', member)
                for k, member in enumerate(self.members)]

    def member_batches(self, inputs, data_samples: Optional[list],
                       own_samples: bool = False) -> List[Tuple]:
        """(inputs, data_samples) as each member sees them.

        With ``own_samples`` no two members share a list of data samples: the first member of
        a shared list keeps it, each other gets a copy, taken here, before any member runs.
        Stock models edit their samples in place (RTMDet-Ins's loss turns ``gt_instances.masks``
        into a tensor, every ``predict`` adds its ``pred_*`` fields), which another member must
        not see.
        """
        if isinstance(inputs, PerModelBatch):
            batches = list(zip(inputs.inputs, inputs.data_samples))
        else:
            batches = [(inputs, data_samples)] * len(self.members)
        if own_samples:
            seen = set()
            for k, (member_inputs, samples) in enumerate(batches):
                if samples is not None and id(samples) in seen:
                    batches[k] = (member_inputs, copy.deepcopy(samples))
                seen.add(id(samples))
        return batches

    @staticmethod
    def padded_size(inputs) -> Tuple[int, int]:
        """(H, W) of a preprocessed batch (a (B, C, H, W) tensor or a list of (C, H, W))."""
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        return tuple(first.shape[-2:])

    def forward(self,
                inputs: Union[torch.Tensor, PerModelBatch],
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list, torch.Tensor]:
        """``inputs``: the preprocessed batch, e.g. (B, 3, H, W), or a :class:`PerModelBatch`
        when members preprocess differently; ``mode``: loss/predict/tensor."""
        every_member = mode == 'loss' or (mode == 'predict' and self.predict_member == 'all')
        batches = self.member_batches(inputs, data_samples, own_samples=every_member)
        if mode == 'loss':
            losses = {}
            for k, (member, batch) in enumerate(zip(self.members, batches)):
                for name, value in member(*batch, mode='loss').items():
                    losses[f'm{k}.{name}'] = value
            return losses
        if mode == 'predict' and self.predict_member == 'all':
            return self.predict_all(batches)
        if mode in ('predict', 'tensor'):
            k = 0 if self.predict_member == 'all' else self.predict_member
            return self.members[k](*batches[k], mode=mode)
        raise ValueError(f"Invalid mode {mode!r}: expected 'loss', 'predict' or 'tensor'")

    def predict_all(self, batches: List[Tuple]) -> list:
        """Every member's predictions: member 0's samples, each with ``member_samples``.

        Member 0 predicts into its data samples as a stock model does; the others into copies
        taken before any member predicts (their own, when they preprocess differently).
        """
        per_member = [member(inputs, samples, mode='predict')
                      for member, (inputs, samples) in zip(self.members, batches)]
        results = []
        for i, sample in enumerate(per_member[0]):
            result = sample.new()  # shares the tensors; no cycle through member_samples
            result.member_samples = [samples[i] for samples in per_member]
            results.append(result)
        return results

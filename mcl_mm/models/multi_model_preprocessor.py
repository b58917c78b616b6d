"""Each model of a composite (a distiller's teacher and student, a cohort's members) sees the
batch preprocessed by its own data preprocessor.

Models whose preprocessor configs are equal (mmpretrain's ``train_cfg.augments`` included,
which its ImageClassifier hands to the preprocessor) share one pass (and so the same random
batch augmentation); a composite whose models all agree keeps the plain shared path. Otherwise the
composite's ``data_preprocessor`` is a :class:`MultiModelDataPreprocessor`, which runs every
distinct preprocessor on the raw batch (each on its own copy of the data samples, which
preprocessors edit in place: padded labels, rescaled boxes) and hands the composite a
:class:`PerModelBatch`.
"""
import copy
from typing import List, NamedTuple, Optional, Sequence, Tuple

from mmengine.config import ConfigDict
from mmengine.model import BaseDataPreprocessor
from torch import nn


class PerModelBatch(NamedTuple):
    """The batch as each model of a composite sees it: ``inputs[k]`` (e.g. (B, 3, H_k, W_k))
    and ``data_samples[k]`` of model k."""
    inputs: list
    data_samples: list


def _plain(cfg) -> Optional[dict]:
    """A preprocessor config without scope markers, for comparison."""
    if cfg is None:
        return None
    if isinstance(cfg, nn.Module):
        return {'module': id(cfg)}
    cfg = cfg.to_dict() if isinstance(cfg, ConfigDict) else copy.deepcopy(dict(cfg))
    cfg.pop('_scope_', None)
    if isinstance(cfg.get('type'), str):
        cfg['type'] = cfg['type'].split('.')[-1]
    return cfg


def _train_cfg_augments(cfg) -> Optional[list]:
    """mmpretrain's ``train_cfg.augments`` of a model config (batch augmentations its
    ImageClassifier hands to the data preprocessor), or None."""
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict) or not train_cfg.get('augments'):
        return None
    return [_plain(a) for a in train_cfg['augments']]


def _differing_keys(a: Optional[dict], b: Optional[dict]) -> List[str]:
    a, b = a or {}, b or {}
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


class MultiModelDataPreprocessor(BaseDataPreprocessor):
    """Runs each distinct preprocessor of a composite's models on the raw batch.

    Args:
        preprocessors (list[nn.Module]): model k's data preprocessor, k = 0..N-1 (they stay
            owned by their models: not registered here, so not saved twice).
        groups (list[list[int]]): models that share one pass; ``groups[0]`` holds model 0,
            which gets the original data samples, the other groups get copies.

    Returns (forward): ``dict(inputs=PerModelBatch(...), data_samples=<model 0's>)``.
    """

    def __init__(self, preprocessors: Sequence[nn.Module], groups: Sequence[Sequence[int]]):
        super().__init__()
        object.__setattr__(self, 'preprocessors', list(preprocessors))
        self.groups = [list(g) for g in groups]

    def forward(self, data: dict, training: bool = False) -> dict:
        n = len(self.preprocessors)
        inputs, samples = [None] * n, [None] * n
        for g, members in enumerate(self.groups):
            batch = data if g == 0 else dict(
                data, data_samples=copy.deepcopy(data.get('data_samples')))
            out = self.preprocessors[members[0]](batch, training)
            for k in members:
                inputs[k], samples[k] = out['inputs'], out.get('data_samples')
        return dict(inputs=PerModelBatch(inputs, samples), data_samples=samples[0])


def composite_preprocessor(models: Sequence[nn.Module], cfgs: Sequence[dict],
                           keys: Sequence[str],
                           shared: Optional[dict] = None) -> Tuple[nn.Module, bool]:
    """The data preprocessor of a composite of ``models`` built from ``cfgs``.

    Args:
        models: the built models.
        cfgs: their configs (their ``data_preprocessor`` entries are compared).
        keys: their config keys (``model.student``, ``model.members[1]``), for errors.
        shared: the composite's own ``data_preprocessor`` config, if one was given (MMEngine's
            Runner also fills it from the config's top-level ``data_preprocessor``): it must
            equal every model's own.

    Returns:
        (module, per_model): model 0's preprocessor and False when all models preprocess
        alike, else a :class:`MultiModelDataPreprocessor` and True.
    """
    own = [_plain(cfg.get('data_preprocessor')) for cfg in cfgs]
    if shared is not None:
        wanted = _plain(shared)
        for key, cfg in zip(keys, own):
            diff = _differing_keys(wanted, cfg)
            if diff:
                raise ValueError(
                    f'model.data_preprocessor differs from the data preprocessor of {key} '
                    f'(keys {diff}): a model must see the batch as it was trained to. Set '
                    'model.data_preprocessor=None so that each model preprocesses with its '
                    'own (MMEngine fills model.data_preprocessor from the top-level '
                    'data_preprocessor when the model dict has no such key), or give the '
                    'models the same data_preprocessor')
    # models share a pass when their preprocessors are of one class and one config, batch
    # augmentations included (mmpretrain's ImageClassifier gives its preprocessor the
    # ``train_cfg`` augments: Mixup/CutMix of a DeiT recipe are not in its data_preprocessor)
    kinds = [(type(m.data_preprocessor), cfg, _train_cfg_augments(model_cfg))
             for m, cfg, model_cfg in zip(models, own, cfgs)]
    groups: List[List[int]] = []
    for k, kind in enumerate(kinds):
        for group in groups:
            if kinds[group[0]] == kind:
                group.append(k)
                break
        else:
            groups.append([k])
    if len(groups) == 1:
        return models[0].data_preprocessor, False
    return MultiModelDataPreprocessor([m.data_preprocessor for m in models], groups), True

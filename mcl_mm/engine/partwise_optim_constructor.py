"""A toolbox's optimizer constructor applied to each stock model inside a composite.

The layer-wise learning-rate decay of ConvNeXt, BEiT, MAE and ViT recipes comes from
constructors that read parameter names as the stock model has them: mmseg's and mmdet's
``LearningRateDecayOptimizerConstructor`` match ``backbone.stages.*`` and call
``model.backbone``; mmpretrain's and mmpose's ask the model for ``get_layer_depth``. Inside a
CIRKD distiller the student's names start with ``student.``, inside a cohort with
``members.k.``: the decay then silently vanished (every parameter of a distilled ConvNeXt at
the base rate) or the constructor failed deep inside (``NotImplementedError``, a ``TypeError``
of tuples).

:class:`PartwiseOptimWrapperConstructor` builds the named constructor on each stock part of
the model (``model.stock_parts()``: the CIRKD student, every cohort member) exactly as it
runs on that model alone, and puts the parameters outside the parts (projection heads, the
memory loss's layers, L-MCL branches) in one group at the optimizer's base settings.
:class:`mcl_mm.engine.runner.Runner` switches to it by itself when a composite's config names
another constructor than mmengine's default, so a user who copies a stock ``optim_wrapper``
gets the recipe as the stock model gets it; a config may also name it::

    optim_wrapper = dict(
        optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        constructor='mcl_mm.PartwiseOptimWrapperConstructor',
        paramwise_cfg=dict(part_constructor='LearningRateDecayOptimizerConstructor',
                           decay_rate=0.9, decay_type='stage_wise', num_layers=6))
"""
import copy
import inspect
from typing import List, Optional

from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

from mcl_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS

DEFAULT_CONSTRUCTORS = ('DefaultOptimWrapperConstructor',
                        'mmengine.DefaultOptimWrapperConstructor')
NAME = 'mcl_mm.PartwiseOptimWrapperConstructor'


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PartwiseOptimWrapperConstructor:
    """``paramwise_cfg.part_constructor`` (a constructor type, e.g.
    ``'LearningRateDecayOptimizerConstructor'``) built with the rest of ``paramwise_cfg`` on
    each part of ``model.stock_parts()``; their parameter groups, and one group of the
    remaining trainable parameters at the optimizer's settings, make one optimizer of
    ``optim_wrapper_cfg.optimizer``, wrapped as ``optim_wrapper_cfg`` says (``type``,
    ``clip_grad``, ``accumulative_counts``, ...)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        self.part_constructor = paramwise_cfg.pop('part_constructor', None)
        if not isinstance(self.part_constructor, str) or 'optimizer' not in optim_wrapper_cfg:
            raise ValueError(
                f"optim_wrapper: constructor='{NAME}' needs optim_wrapper.optimizer and "
                "optim_wrapper.paramwise_cfg.part_constructor (the constructor type to apply "
                "to each stock model, e.g. 'LearningRateDecayOptimizerConstructor'), got "
                f'part_constructor={self.part_constructor!r}')
        self.part_paramwise_cfg = paramwise_cfg or None
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = getattr(model, 'module', model)  # a DDP wrapper's model
        if not hasattr(model, 'stock_parts'):
            raise TypeError(f"optim_wrapper: constructor='{NAME}' needs a model with stock "
                            f'parts (mcl_mm.SegDistiller, ModelGroup, MCLCohort), got '
                            f'{type(model).__name__}')
        optimizer_cfg = copy.deepcopy(self.optim_wrapper_cfg['optimizer'])
        groups: List[dict] = []
        for prefix, _, part in model.stock_parts():
            constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
                type=self.part_constructor,
                optim_wrapper_cfg=dict(type='OptimWrapper',
                                       optimizer=copy.deepcopy(optimizer_cfg)),
                paramwise_cfg=copy.deepcopy(self.part_paramwise_cfg)))
            try:
                part_groups = constructor(part).optimizer.param_groups
            except (NotImplementedError, TypeError, AttributeError, KeyError) as e:
                backbone = type(getattr(part, 'backbone', part)).__name__
                raise ValueError(
                    f'optim_wrapper.constructor={self.part_constructor!r} fails on {prefix} '
                    f'(a {type(part).__name__} with a {backbone} backbone): '
                    f'{type(e).__name__}: {e or "(no message)"}. That constructor supports only '
                    'some backbones (mmseg\'s and mmdet\'s layer decay: ConvNeXt, BEiT, MAE); '
                    'members that need other recipes take MMEngine\'s default constructor') from e
            groups += [dict(group, params=list(group['params'])) for group in part_groups]
        taken = {id(p) for group in groups for p in group['params']}
        rest = [(name, p) for name, p in model.named_parameters()
                if p.requires_grad and id(p) not in taken]
        if rest:  # the optimizer's own lr and weight decay
            group = dict(params=[p for _, p in rest])
            if any('param_names' in g for g in groups):  # torch: all groups named, or none
                group['param_names'] = [name for name, _ in rest]
            groups.append(group)
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))  # as mmengine's
        optimizer_cfg[first_arg] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = {k: v for k, v in self.optim_wrapper_cfg.items() if k != 'optimizer'}
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))


def partwise_optim_wrapper_cfg(model: nn.Module, cfg: dict) -> Optional[dict]:
    """``cfg`` (one optimizer wrapper's config) turned into this constructor's form when
    ``model`` is a composite with stock parts and ``cfg`` names another constructor than
    mmengine's default; None when it stays as it is."""
    model = getattr(model, 'module', model)
    constructor = cfg.get('constructor')
    if (not hasattr(model, 'stock_parts') or 'optimizer' not in cfg or constructor is None
            or constructor in DEFAULT_CONSTRUCTORS
            or constructor in (NAME, NAME.split('.')[-1])):
        return None
    cfg = copy.deepcopy(dict(cfg))
    cfg['paramwise_cfg'] = dict(cfg.get('paramwise_cfg') or {}, part_constructor=constructor)
    cfg['constructor'] = NAME
    return cfg

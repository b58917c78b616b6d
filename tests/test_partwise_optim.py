"""A stock recipe's optimizer constructor (layer-wise learning-rate decay) on the stock models
inside a CIRKD distiller or a cohort: every parameter of the student / each member gets the lr
and weight decay it gets when that model is built alone."""
import re

import pytest
from conftest import REPO, run_tool
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mcl_mm.engine.partwise_optim_constructor import partwise_optim_wrapper_cfg
from mcl_mm.models.builder import load_config

CONVNEXT = 'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
VIT = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'
SMALL_VIT = dict(backbone=dict(arch='deit-tiny', init_cfg=None), head=dict(in_channels=192))
NO_INIT = dict(backbone=dict(init_cfg=None))


def _settings(model, wrapper, prefix=''):
    """name (without ``prefix``) -> (lr, weight_decay) of every parameter the optimizer has."""
    found = {id(p): (g['lr'], g['weight_decay']) for g in wrapper.optimizer.param_groups
             for p in g['params']}
    return {name[len(prefix):]: found.get(id(p)) for name, p in model.named_parameters()
            if name.startswith(prefix)}


def _stock_optim_wrapper(cfg_path):
    cfg = load_config(cfg_path).optim_wrapper.to_dict()
    cfg.pop('_delete_', None)
    cfg.pop('loss_scale', None)
    cfg['type'] = 'OptimWrapper'  # the stock AmpOptimWrapper needs CUDA
    return cfg


@pytest.mark.parametrize('scope,cfg_path,overrides,kind', [
    ('mmseg', CONVNEXT, NO_INIT, 'distiller'),
    ('mmseg', CONVNEXT, NO_INIT, 'cohort'),
    ('mmpretrain', VIT, SMALL_VIT, 'cohort'),
])
def test_each_stock_part_gets_its_stock_layer_decay(scope, cfg_path, overrides, kind):
    from mcl_mm.registry import MODELS
    init_default_scope(scope)
    optim_cfg = _stock_optim_wrapper(cfg_path)
    alone = MODELS.build(dict(type='mcl_mm.StockModel', cfg_path=cfg_path, **overrides))
    expected = _settings(alone, build_optim_wrapper(alone, optim_cfg))
    assert len({lr for lr, _ in expected.values()}) > 3  # the recipe decays by layer

    part = dict(cfg_path=cfg_path, **overrides)
    if kind == 'distiller':
        model = MODELS.build(dict(type='mcl_mm.SegDistiller', student=part, teacher=part,
                                  random_teacher=True))
        prefixes = ['student.']
        # why: the stock constructor on the distiller silently gives the student one lr
        unswitched = _settings(model, build_optim_wrapper(model, optim_cfg), 'student.')
        assert len({lr for lr, _ in unswitched.values()}) == 1
    else:
        model = MODELS.build(dict(type='mcl_mm.ModelGroup', members=[part, part]))
        prefixes = ['members.0.', 'members.1.']
    wrapper = build_optim_wrapper(model, partwise_optim_wrapper_cfg(model, optim_cfg))
    for prefix in prefixes:
        assert _settings(model, wrapper, prefix) == expected, prefix
    assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == \
        len(list(model.parameters()))


@pytest.mark.parametrize('kind', ['cirkd', 'mcl'])
def test_parameters_outside_the_parts_get_the_optimizers_settings(kind):
    """The CIRKD memory loss's projection layers, the MCL projection heads."""
    from mmengine.config import Config

    from mcl_mm.registry import MODELS
    if kind == 'cirkd':
        init_default_scope('mmseg')
        cfg = Config.fromfile(str(REPO / 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_'
                                  'synthetic-cityscapes.py'))
        cfg.model.update(teacher_ckpt=None, random_teacher=True, student=dict(
            cfg_path=CONVNEXT, decode_head=dict(num_classes=19),
            auxiliary_head=dict(num_classes=19), **NO_INIT))
        model, inside = MODELS.build(cfg.model), 'student.'
        optim_cfg = _stock_optim_wrapper(CONVNEXT)
    else:
        init_default_scope('mmpretrain')
        member = dict(cfg_path=VIT, **SMALL_VIT)
        model = MODELS.build(dict(
            type='mcl_mm.MCLCohort', members=[member, member],
            embeddings=dict(module='backbone', index=-1),
            mcl_loss=dict(type='mcl_mm.MCLLoss', in_channels=[192, 192], embed_dim=16)))
        optim_cfg, inside = _stock_optim_wrapper(VIT), 'members.'
    wrapper = build_optim_wrapper(model, partwise_optim_wrapper_cfg(model, optim_cfg))
    outside = {name: s for name, s in _settings(model, wrapper).items()
               if not name.startswith(inside)}
    assert outside and set(outside.values()) == {(optim_cfg['optimizer']['lr'],
                                                  optim_cfg['optimizer']['weight_decay'])}


def test_configs_that_need_no_switch_stay_as_they_are():
    from mcl_mm.registry import MODELS
    init_default_scope('mmpretrain')
    cohort = MODELS.build(dict(type='mcl_mm.ModelGroup',
                               members=[dict(cfg_path=VIT, **SMALL_VIT)] * 2))
    sgd = dict(optimizer=dict(type='SGD', lr=0.1))
    assert partwise_optim_wrapper_cfg(cohort, sgd) is None
    assert partwise_optim_wrapper_cfg(
        cohort, dict(sgd, constructor='DefaultOptimWrapperConstructor')) is None
    alone = MODELS.build(dict(type='mcl_mm.StockModel', cfg_path=VIT, **SMALL_VIT))
    assert partwise_optim_wrapper_cfg(alone, _stock_optim_wrapper(VIT)) is None
    with pytest.raises(ValueError, match='paramwise_cfg.part_constructor'):
        build_optim_wrapper(cohort,
                            dict(sgd, constructor='mcl_mm.PartwiseOptimWrapperConstructor'))


@pytest.mark.slow
def test_a_convnext_student_trains_with_its_stock_layer_decay(synthetic_data, tmp_path):
    """A user's config: our synthetic CIRKD pair with mmseg's ConvNeXt-T UPerNet as student and
    that config's optimizer (AdamW, stage-wise decay); tools/train.py switches to the partwise
    constructor and the run's optimizer holds the student's six stage rates."""
    data = synthetic_data('cityscapes')
    cfg = tmp_path / 'convnext_student.py'
    base = REPO / 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
    cfg.write_text(
        f"_base_ = [{str(base)!r}]\n"
        "model = dict(teacher_ckpt=None, random_teacher=True, student=dict(\n"
        f"    _delete_=True, cfg_path={CONVNEXT!r}, backbone=dict(init_cfg=None),\n"
        "    decode_head=dict(num_classes=19), auxiliary_head=dict(num_classes=19),\n"
        "    data_preprocessor=dict(size=(64, 128))))\n"
        "optim_wrapper = dict(_delete_=True, type='OptimWrapper',\n"
        "    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),\n"
        "    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6),\n"
        "    constructor='LearningRateDecayOptimizerConstructor')\n")
    work = tmp_path / 'work'
    log = run_tool('tools/train.py', str(cfg), '--work-dir', str(work), '--no-validate',
                   '--cfg-options', f'train_dataloader.dataset.data_root={data}',
                   'train_cfg.max_iters=1', 'default_hooks.checkpoint.interval=1',
                   'train_dataloader.batch_size=2')
    assert re.search(r"LearningRateDecayOptimizerConstructor is applied to each of "
                     r"\['student'\]", log), log[-3000:]
    import torch
    state = torch.load(work / 'iter_1.pth', weights_only=True)['optimizer']
    lrs = {round(g['initial_lr'], 12) for g in state['param_groups']}  # before the schedule
    from mcl_mm.registry import MODELS
    init_default_scope('mmseg')
    alone = MODELS.build(dict(type='mcl_mm.StockModel', cfg_path=CONVNEXT, **NO_INIT))
    stock = build_optim_wrapper(alone, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6),
        constructor='LearningRateDecayOptimizerConstructor'))
    stage_rates = {round(g['lr'], 12) for g in stock.optimizer.param_groups}
    assert len(stage_rates) == 6 and stage_rates <= lrs


def test_a_member_the_constructor_does_not_support_is_named():
    """mmseg's layer decay knows ConvNeXt, BEiT and MAE; a DeepLabV3-R18 member beside a
    ConvNeXt one made it raise a bare NotImplementedError."""
    from mcl_mm.registry import MODELS
    init_default_scope('mmseg')
    resnet = REPO / 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py'
    cohort = MODELS.build(dict(type='mcl_mm.ModelGroup', members=[
        dict(cfg_path=CONVNEXT, **NO_INIT), dict(cfg_path=str(resnet))]))
    optim_cfg = _stock_optim_wrapper(CONVNEXT)
    with pytest.raises(ValueError, match=r"LearningRateDecayOptimizerConstructor' fails on "
                                         r'members\.1 \(a EncoderDecoder with a ResNetV1c'):
        build_optim_wrapper(cohort, partwise_optim_wrapper_cfg(cohort, optim_cfg))

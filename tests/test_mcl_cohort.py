"""mcl_mm.MCLCohort: cohorts of segmentors, detectors and mmpretrain classifiers (also
layer-wise), member validation, member export into stock configs, and tiny runs through the
tools."""
import copy
import json
import re
from argparse import Namespace

import pytest
import torch
from conftest import REPO, run_tool
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import PixelData

SEG_COHORT = 'configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py'
SEG_MEMBER = 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py'
DET_COHORT = 'configs/mcl/retinanet-r18x2_synthetic-coco.py'


def _build(model_cfg, scope='mmseg'):
    import mcl_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(model_cfg)


def _seg_model_cfg(**overrides):
    cfg = Config.fromfile(str(REPO / SEG_COHORT)).model
    cfg.update(overrides)
    return cfg


def _seg_batch(model, b=2, h=64, w=64, num_classes=19, seed=0):
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(b, 3, h, w, generator=g)
    samples = []
    for _ in range(b):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        label = torch.randint(0, num_classes, (1, h, w), generator=g)
        label[:, :4] = 255
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return inputs, samples


def test_seg_cohort_losses_and_gradients():
    model = _build(_seg_model_cfg()).train()
    inputs, samples = _seg_batch(model)
    losses = model(inputs, samples, mode='loss')
    for k in (0, 1):
        assert f'm{k}.decode.loss_ce' in losses and f'm{k}.aux.loss_ce' in losses
    for name in ('loss_vcl', 'loss_soft_vcl', 'loss_icl', 'loss_soft_icl', 'loss_mutual_kd'):
        assert torch.isfinite(losses[name]) and losses[name] > 0, name
    # the MCL terms alone reach both members' heads and the projection heads
    mcl = losses['loss_icl'] + losses['loss_soft_icl']
    model.zero_grad()
    mcl.backward()
    for k in (0, 1):
        grad = model.members[k].decode_head.bottleneck.conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0, k
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.mcl_loss.parameters())
    # recorded tensors are released after the step
    assert all(r.data is None for r in model.embed_recorders + model.logit_recorders)


def test_three_member_heterogeneous_cohort():
    wide = dict(cfg_path=str(REPO / 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'))
    narrow = dict(cfg_path=str(REPO / SEG_MEMBER))
    cfg = _seg_model_cfg(members=[narrow, wide, narrow])
    cfg.mcl_loss['in_channels'] = [64, 128, 64]
    model = _build(cfg).train()
    losses = model(*_seg_batch(model), mode='loss')
    assert {f'm{k}.decode.loss_ce' for k in range(3)} <= set(losses)
    assert all(torch.isfinite(losses[n]) for n in ('loss_vcl', 'loss_icl', 'loss_soft_icl'))
    # wrong channel count for the heterogeneous member: the loss says which and what
    cfg.mcl_loss['in_channels'] = [64, 64, 64]
    with pytest.raises(ValueError, match=r'model.mcl_loss.in_channels\[1\]=64, but the recorder '
                                         r'model.embeddings\[1\] .* gives 128 channels'):
        _build(cfg)
    # channels left out are read from the recorded modules
    cfg.mcl_loss['in_channels'] = None
    assert [h[0][0].in_features for h in _build(cfg).mcl_loss.heads] == [64, 128, 64]


def test_cohort_config_errors():
    with pytest.raises(ValueError, match='model.members: an MCL cohort needs at least 2'):
        _build(_seg_model_cfg(members=[dict(cfg_path=str(REPO / SEG_MEMBER))]))
    with pytest.raises(ValueError, match=r"model.embeddings\[0\].module: no module named "
                                         r"'decode_head.conv_sge'; close matches"):
        _build(_seg_model_cfg(embeddings=dict(module='decode_head.conv_sge', io='input')))
    with pytest.raises(ValueError, match='model.level'):
        _build(_seg_model_cfg(level='pixels'))
    with pytest.raises(ValueError, match='model.logits must name'):
        _build(_seg_model_cfg(logits=None))


def test_predict_all_and_member_metric():
    """Every member predicts; MemberMetric scores each with a copy of the stock metric."""
    from mmengine.evaluator import Evaluator
    model = _build(_seg_model_cfg()).eval()
    inputs, samples = _seg_batch(model, b=2)
    with torch.no_grad():
        out = model(inputs, copy.deepcopy(samples), mode='predict')
        alone = [model.members[k](inputs, copy.deepcopy(samples), mode='predict')
                 for k in (0, 1)]
    assert len(out) == 2 and len(out[0].member_samples) == 2
    for k in (0, 1):
        assert torch.equal(out[0].member_samples[k].pred_sem_seg.data,
                           alone[k][0].pred_sem_seg.data)
    # different members predict differently (independent initialisation)
    assert not torch.equal(alone[0][0].seg_logits.data, alone[1][0].seg_logits.data)

    import mcl_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator(dict(type='mcl_mm.MemberMetric',
                                   metric=dict(type='IoUMetric', iou_metrics=['mIoU'])))
        evaluator.dataset_meta = dict(classes=[str(i) for i in range(19)])
        evaluator.process(out)
        metrics = evaluator.evaluate(2)
        single = []
        for k in (0, 1):
            ev = Evaluator(dict(type='IoUMetric', iou_metrics=['mIoU']))
            ev.dataset_meta = dict(classes=[str(i) for i in range(19)])
            ev.process(alone[k])
            single.append(ev.evaluate(2)['mIoU'])
    assert metrics['m0/mIoU'] == single[0] and metrics['m1/mIoU'] == single[1]

    model.predict_member = 1
    with torch.no_grad():
        one = model(inputs, copy.deepcopy(samples), mode='predict')
    assert torch.equal(one[0].pred_sem_seg.data, alone[1][0].pred_sem_seg.data)


def test_members_never_see_another_members_edits_of_the_samples():
    """Stock models edit their data samples in place (RTMDet-Ins's loss turns the gt masks
    into a tensor, every predict adds its pred_* fields): members that share a preprocessing
    pass still each get samples no other member has touched, and the MCL loss gets the
    batch's labels as they came."""
    from mmseg.structures import SegDataSample
    model = _build(_seg_model_cfg()).train()
    inputs, samples = _seg_batch(model)
    labels = torch.stack([s.gt_sem_seg.data for s in samples])  # (B, 1, H, W)
    seen = {}

    def spying(k, fn, edit):
        def run(inputs, data_samples, *args, **kwargs):
            seen[k] = [(s.gt_sem_seg.data.clone(), set(s.keys())) for s in data_samples]
            out = fn(inputs, data_samples, *args, **kwargs)
            for s in data_samples:  # after use, as RTMDet-Ins edits its gt masks
                if edit:
                    s.gt_sem_seg = PixelData(data=torch.zeros_like(s.gt_sem_seg.data))
            return out
        return run

    for k, member in enumerate(model.members):
        member.loss = spying(k, member.loss, edit=True)
    mcl_forward = model.mcl_loss.forward

    def mcl_spy(*args, **kwargs):
        seen['mcl'] = kwargs['labels']
        return mcl_forward(*args, **kwargs)

    model.mcl_loss.forward = mcl_spy
    model(inputs, samples, mode='loss')
    for k in (0, 1):
        assert all(torch.equal(label, s[0]) for label, s in zip(labels, seen[k])), k
    assert torch.equal(seen['mcl'], labels.squeeze(1))

    model = _build(_seg_model_cfg(predict_member='all')).eval()
    for k, member in enumerate(model.members):
        member.predict = spying(k, member.predict, edit=False)
    inputs, samples = _seg_batch(model)
    with torch.no_grad():
        out = model(inputs, samples, mode='predict')
    assert all('pred_sem_seg' not in keys for k in (0, 1) for _, keys in seen[k])
    assert isinstance(out[0].member_samples[1], SegDataSample)
    assert out[0].member_samples[1] is not samples[0]


def _scalars(work):
    return [json.loads(line) for f in sorted(work.glob('*/vis_data/scalars.json'))
            for line in f.read_text().splitlines()]


@pytest.mark.slow
def test_seg_cohort_train_test_export(synthetic_data, tmp_path):
    """tools/train.py -> tools/test.py scores both members; member 1 exported alone scores the
    same in its stock mmseg config."""
    data = synthetic_data('cityscapes')
    roots = [f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')]
    short = ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
             'default_hooks.checkpoint.interval=4', 'train_dataloader.batch_size=2',
             'default_hooks.logger.interval=1']
    work = tmp_path / 'cohort'
    log = run_tool('tools/train.py', SEG_COHORT, '--work-dir', str(work), '--cfg-options',
                   *roots, *short)
    for name in ('m0.decode.loss_ce', 'm1.decode.loss_ce', 'loss_vcl', 'loss_soft_vcl',
                 'loss_icl', 'loss_soft_icl', 'loss_mutual_kd'):
        assert re.search(rf'{re.escape(name)}: \d', log), name
    assert (work / 'iter_4.pth').exists()
    assert list(work.glob('best_m0_mIoU_iter_4.pth'))
    out = tmp_path / 'pred'  # --out DIR: each member's label maps, as mmseg's for one model
    log = run_tool('tools/test.py', SEG_COHORT, str(work / 'iter_4.pth'), '--work-dir',
                   str(tmp_path / 'test'), '--out', str(out), '--cfg-options', *roots)
    m1 = re.findall(r'm1/mIoU: (\d+\.\d+)', log)[-1]
    assert re.findall(r'm0/mIoU: (\d+\.\d+)', log)
    maps = {k: sorted(p.name for p in (out / f'm{k}').glob('*.png')) for k in (0, 1)}
    assert maps[0] and maps[0] == maps[1], maps
    run_tool('tools/model_converters/cohort_member.py', str(work / 'iter_4.pth'),
             str(tmp_path / 'member1.pth'), '--member', '1')
    state = torch.load(tmp_path / 'member1.pth')['state_dict']
    assert not [k for k in state if 'mcl_loss' in k or k.startswith('members.')]
    alone = tmp_path / 'pred_member'
    log = run_tool('tools/test.py', SEG_MEMBER, str(tmp_path / 'member1.pth'), '--work-dir',
                   str(tmp_path / 'test_member'), '--out', str(alone), '--cfg-options', *roots)
    assert re.findall(r'mIoU: (\d+\.\d+)', log)[-1] == m1
    # member 1's label maps equal those of the exported member in its stock config
    import numpy as np
    from PIL import Image
    assert sorted(p.name for p in alone.glob('*.png')) == maps[1]
    for name in maps[1]:
        assert np.array_equal(np.asarray(Image.open(alone / name)),
                              np.asarray(Image.open(out / 'm1' / name))), name


@pytest.mark.slow
def test_det_cohort_train_and_test(synthetic_data, tmp_path):
    data = synthetic_data('coco_det')
    ann = f'{data}/annotations/instances_val2017.json'
    opts = ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}/'
                               for s in ('train', 'val', 'test')],
            f'val_evaluator.metric.ann_file={ann}', f'test_evaluator.metric.ann_file={ann}',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
            # one epoch from RetinaNet's classification prior (bias -4.6, as the stock model
            # starts) leaves every score below 0.05: keep all boxes so COCO scores each member
            *[f'model.members.{k}.test_cfg.score_thr=0.0' for k in (0, 1)]]
    work = tmp_path / 'det'
    log = run_tool('tools/train.py', DET_COHORT, '--work-dir', str(work), *opts)
    for name in ('m0.loss_cls', 'm1.loss_bbox', 'loss_icl', 'loss_soft_icl'):
        assert re.search(rf'{re.escape(name)}: \d', log), name
    assert re.search(r'm0/coco/bbox_mAP: \d', log) and re.search(r'm1/coco/bbox_mAP: \d', log)


CLS_COHORT = 'configs/mcl/resnet18x2_synthetic-imagenet.py'
CLS_MEMBER = 'configs/baselines/resnet18_synthetic-imagenet.py'


def _cls_opts(data, epochs=2, batch=8, memory=20):
    """cfg-options for a set of ``memory`` training images (None: a single classifier)."""
    return ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                               for s in ('train', 'val', 'test')],
            *([f'model.mcl_loss.memory.num_samples={memory}'] if memory else []),
            *[f'{s}_dataloader.num_workers=0' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.persistent_workers=False' for s in ('train', 'val', 'test')],
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'default_hooks.checkpoint.interval={epochs}', f'train_dataloader.batch_size={batch}',
            'default_hooks.logger.interval=1']


def _load_strictly(model, path):
    """Load a checkpoint as MMEngine does, but strictly: a missing or unexpected key fails."""
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, str(path), map_location='cpu', strict=True)
    return model


def _stock_classifier(config, num_classes=None):
    """The mmpretrain model a config builds (its top-level data_preprocessor included)."""
    from mcl_mm.models.builder import load_config
    cfg = load_config(config)
    model = dict(cfg.model, data_preprocessor=cfg.get('data_preprocessor'))
    if num_classes is not None:
        model['head'] = dict(model['head'], num_classes=num_classes)
    return _build(model, 'mmpretrain')


STOCK_R18 = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'


def test_members_with_batch_mixing_share_one_pass_or_are_refused():
    """mmpretrain recipes give Mixup/CutMix in train_cfg.augments, not in data_preprocessor:
    a ResNet-18 + DeiT-T group still preprocesses apart (DeiT keeps its mixing, ResNet gets
    clean images), and an MCL cohort of them is refused (sample i would be different images
    in the two members); two DeiT-T members share one pass, one mix."""
    deit = dict(cfg_path='mmpretrain::deit/deit-tiny_4xb256_in1k.py')
    resnet = dict(cfg_path=STOCK_R18)
    group = _build(dict(type='mcl_mm.ModelGroup', members=[resnet, deit]), 'mmpretrain')
    assert group.per_member_preprocessing
    assert getattr(group.members[0].data_preprocessor, 'batch_augments', None) is None
    assert group.members[1].data_preprocessor.batch_augments is not None
    cohort = dict(type='mcl_mm.MCLCohort', embeddings=dict(module='backbone', index=-1),
                  mcl_loss=dict(type='mcl_mm.MCLLoss', in_channels=[512, 192]))
    with pytest.raises(ValueError, match=r'model.members\[1\] mixes the images of a batch '
                                         r'\(CutMix, Mixup.* MCL pairs sample i across members'):
        _build(dict(cohort, members=[resnet, deit]), 'mmpretrain')
    model = _build(dict(cohort, members=[deit, deit],
                        mcl_loss=dict(cohort['mcl_loss'], in_channels=[192, 192])), 'mmpretrain')
    assert not model.per_member_preprocessing


@pytest.mark.slow
def test_cls_cohort_memory_train_test_export_transfer(synthetic_data, tmp_path):
    """A classifier cohort with memories through the tools; member 1 exported loads strictly
    (every key) into the stock mmpretrain model of its config and of mmpretrain's own
    ResNet-18 config, and scores there what the cohort reported for it; member 0's backbone
    loads through init_cfg into a stock mmpretrain ResNet-18 and a stock mmdet Faster R-CNN
    with every backbone key."""
    data = synthetic_data('imagenet', num_train=20, num_val=10)
    work = tmp_path / 'cls'
    log = run_tool('tools/train.py', CLS_COHORT, '--work-dir', str(work), *_cls_opts(data))
    for name in ('m0.loss', 'm1.loss', 'loss_vcl', 'loss_icl', 'loss_soft_icl'):
        assert re.search(rf'{re.escape(name)}: \d', log), name
    ckpt = work / 'epoch_2.pth'
    state = torch.load(ckpt)['state_dict']
    # every training image has its slot labelled, in both memories' label buffer
    labels = state['mcl_loss.memory_labels']
    assert labels.shape == (20, ) and (labels >= 0).all()
    assert torch.allclose(state['mcl_loss.memory_0'][:20].norm(dim=1), torch.ones(20))

    log = run_tool('tools/test.py', CLS_COHORT, str(ckpt), '--work-dir', str(tmp_path / 't'),
                   *_cls_opts(data))
    top1 = re.findall(r'm1/accuracy/top1: (\d+\.\d+)', log)[-1]
    member = tmp_path / 'm1.pth'
    run_tool('tools/model_converters/cohort_member.py', str(ckpt), str(member), '--member', '1')
    from mmpretrain.models import ImageClassifier
    for config in (str(REPO / CLS_MEMBER), STOCK_R18):
        model = _load_strictly(_stock_classifier(config, num_classes=10), member)
        assert type(model) is ImageClassifier
    log = run_tool('tools/test.py', CLS_MEMBER, str(member), '--work-dir',
                   str(tmp_path / 't1'), *_cls_opts(data, memory=None))
    assert re.findall(r'accuracy/top1: (\d+\.\d+)', log)[-1] == top1

    backbone = tmp_path / 'm0_backbone.pth'
    run_tool('tools/model_converters/cohort_member.py', str(ckpt), str(backbone), '--member',
             '0', '--backbone')
    exported = torch.load(backbone)['state_dict']
    stock_cfg = Config.fromfile(str(REPO / CLS_MEMBER))
    resnet = _build(dict(stock_cfg.model.backbone, init_cfg=dict(
        type='Pretrained', checkpoint=str(backbone))), 'mmpretrain')
    resnet.init_weights()
    cfg = Config.fromfile(str(REPO / 'configs/mcl/faster-rcnn-r18_mcl-init_1x_coco.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(backbone)
    detector = _build(cfg.model, 'mmdet')
    detector.init_weights()
    for loaded in (resnet.state_dict(), detector.backbone.state_dict()):
        assert set(loaded) == set(exported)
        for key, value in loaded.items():
            assert torch.equal(value, exported[key]), key


@pytest.mark.parametrize('cohort, stock', [
    ('resnet18x2_90e_imagenet.py', STOCK_R18),
    ('resnet50x2_90e_imagenet.py', 'mmpretrain::resnet/resnet50_8xb32_in1k.py'),
    ('resnet50x2_lmcl_100e_imagenet.py', 'mmpretrain::resnet/resnet50_8xb32_in1k.py'),
    ('resnet32x2_300e_cifar100.py', 'configs/mcl/resnet32_300e_cifar100.py'),
])
def test_cls_cohort_members_are_stock_mmpretrain_models(cohort, stock, tmp_path):
    """Every member of each shipped classification cohort, extracted as
    tools/model_converters/cohort_member.py does, loads with every key into the stock
    mmpretrain model (mmpretrain's own ImageNet ResNet configs; the CIFAR ResNet-32 config
    for CIFAR-100); no training-only part (projection heads, memories, branches) comes
    along."""
    from mcl_mm.models.export import extract_submodel
    cfg = Config.fromfile(str(REPO / 'configs/mcl' / cohort))
    memory = cfg.model.mcl_loss.get('memory')
    if memory:  # not ImageNet's 1.3 million slots
        memory.update(num_samples=8, neg_k=4)
    model = _build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor), 'mmpretrain')
    state = dict(state_dict=model.state_dict())
    stock = str(REPO / stock) if stock.startswith('configs/') else stock
    for k in range(len(model.members)):
        path = tmp_path / f'member{k}.pth'
        torch.save(extract_submodel(state, f'members.{k}.'), path)
        loaded = _load_strictly(_stock_classifier(stock), path)
        for key, value in loaded.state_dict().items():
            assert torch.equal(value, model.members[k].state_dict()[key]), key


@pytest.mark.slow
def test_lmcl_cohort_trains_and_exports_plain_members(synthetic_data, tmp_path):
    data = synthetic_data('imagenet', num_train=20, num_val=10)
    work = tmp_path / 'lmcl'
    log = run_tool('tools/train.py', 'configs/mcl/resnet18x2_lmcl_synthetic-imagenet.py',
                   '--work-dir', str(work), *_cls_opts(data, epochs=1))
    for name in ('m0.loss', 'm0.loss_aux0', 'm1.loss_aux2', 'm0.loss_agg', 'loss_lmcl_kd',
                 'loss_icl', 'loss_soft_vcl'):
        assert re.search(rf'{re.escape(name)}: \d', log), name
    ckpt = work / 'epoch_1.pth'
    run_tool('tools/model_converters/cohort_member.py', str(ckpt), str(tmp_path / 'm0.pth'))
    # branches, heads and aggregators stay behind: the member is the stock ResNet-18
    _load_strictly(_stock_classifier(STOCK_R18, num_classes=10), tmp_path / 'm0.pth')


@pytest.mark.slow
def test_cls_cohort_resume_is_exact(synthetic_data, tmp_path):
    """2 epochs in one go == 1 epoch, stop, --resume for 1 more: same members, memories (with
    their labels and the loss's generator) and logged losses."""
    data = synthetic_data('imagenet', num_train=20, num_val=10)
    opts = [*_cls_opts(data, epochs=2), 'default_hooks.checkpoint.interval=1',
            'randomness.deterministic=True']
    whole, split = tmp_path / 'whole', tmp_path / 'split'
    run_tool('tools/train.py', CLS_COHORT, '--work-dir', str(whole), *opts)
    run_tool('tools/train.py', CLS_COHORT, '--work-dir', str(split), *opts,
             'train_cfg.max_epochs=1')
    run_tool('tools/train.py', CLS_COHORT, '--work-dir', str(split), '--resume', *opts)
    a = torch.load(whole / 'epoch_2.pth')['state_dict']
    b = torch.load(split / 'epoch_2.pth')['state_dict']
    assert 'mcl_loss.memory_1' in a and a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key
    rows_a = [r for r in _scalars(whole) if 'loss_icl' in r]
    rows_b = [r for r in _scalars(split) if 'loss_icl' in r]
    last = {k: v for k, v in rows_a[-1].items() if 'loss' in k}
    assert last == {k: v for k, v in rows_b[-1].items() if 'loss' in k}


def test_members_are_initialised_as_the_stock_model(tmp_path):
    """Each member runs its own init_cfg: RetinaNet's classification prior and a pretrained
    backbone (a checkpoint this test writes), exactly as the stock model alone; a pretrained
    path that does not exist is an error, not a silent random start."""
    import math

    from mcl_mm.models.builder import load_config
    retinanet = load_config('mmdet::retinanet/retinanet_r18_fpn_1x_coco.py').model
    with DefaultScope.overwrite_default_scope('mmdet'):
        backbone = MODELS.build(dict(retinanet.backbone, init_cfg=None))
    torch.nn.init.normal_(backbone.conv1.weight)  # anything but a default init
    ckpt = tmp_path / 'backbone.pth'
    torch.save(dict(state_dict=backbone.state_dict()), ckpt)
    pretrained = dict(type='Pretrained', checkpoint=str(ckpt))
    member = copy.deepcopy(retinanet)
    member.backbone.init_cfg = pretrained
    cohort = _build(dict(type='mcl_mm.MCLCohort', members=[member, member],
                         embeddings=dict(module='backbone', index=-1),
                         mcl_loss=dict(type='mcl_mm.MCLLoss', in_channels=[512, 512])),
                    scope='mmdet')
    cohort.init_weights()
    stock = _build(member, scope='mmdet')
    stock.init_weights()
    prior = -math.log((1 - 0.01) / 0.01)
    for m in list(cohort.members) + [stock]:
        assert torch.allclose(m.bbox_head.retina_cls.bias, torch.full_like(
            m.bbox_head.retina_cls.bias, prior))
        for name, value in backbone.state_dict().items():
            assert torch.equal(m.backbone.state_dict()[name], value), name
    member.backbone.init_cfg = dict(pretrained, checkpoint=str(tmp_path / 'missing.pth'))
    cohort = _build(dict(type='mcl_mm.ModelGroup', members=[member, member]), scope='mmdet')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        cohort.init_weights()


def test_loss_errors_name_the_config_key():
    """A loss that refuses its inputs says which config entry it is."""
    wide = dict(cfg_path=str(REPO / 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'),
                decode_head=dict(num_classes=7), auxiliary_head=dict(num_classes=7))
    cfg = _seg_model_cfg(members=[dict(cfg_path=str(REPO / SEG_MEMBER)), wide])
    with pytest.raises(ValueError, match=r'model.mutual_kd distils logits between members that '
                                         r'predict the same classes; .* \[19, 7\]'):
        _build(cfg)
    # the loss's own shape check names the key too (logits of another module)
    cfg.logits = [dict(module='decode_head.conv_seg'), dict(module='auxiliary_head.conv_seg')]
    cfg.members[1] = dict(wide, decode_head=dict(num_classes=19),
                          auxiliary_head=dict(num_classes=7))
    model = _build(cfg).train()
    with pytest.raises(ValueError, match=r'model.mutual_kd: MutualKDLoss needs logits .* of the '
                                         r'same shape'):
        model(*_seg_batch(model, num_classes=7), mode='loss')


def _tta_views(scope, h=64, w=64):
    """Two views of two images, as a TTA pipeline's collated batch: dict(inputs=[view][image],
    data_samples=[view][image])."""
    g = torch.Generator().manual_seed(3)
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample as Sample
    else:
        from mmpretrain.structures import DataSample as Sample
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
    return dict(inputs=[[torch.randint(0, 256, (3, h, w), generator=g).float() for _ in range(2)]
                        for _ in range(2)],
                data_samples=[[Sample(metainfo=dict(meta, img_path=f'{i}.png')) for i in range(2)]
                              for _ in range(2)])


@pytest.mark.parametrize('config, scope, tta_model', [
    (SEG_COHORT, 'mmseg', dict(type='SegTTAModel')),
    ('configs/mcl/resnet18x2_synthetic-imagenet.py', 'mmpretrain',
     dict(type='mmpretrain.AverageClsScoreTTA')),
])
def test_tta_merges_every_members_views(config, scope, tta_model):
    """tools/test.py --tta on a model predicting with every member: each member's views are
    merged by the stock TTA model (the stock TTA model alone keeps the members' predictions of
    the first view only)."""
    from mcl_mm.engine.runner_cfg import apply_test_args
    cfg = Config.fromfile(str(REPO / config))
    cfg.tta_model = tta_model
    cfg.tta_pipeline = cfg.test_dataloader.dataset.pipeline
    args = dict(work_dir=None, cfg_options=None, launcher='none', checkpoint='c.pth',
                show=False, show_dir=None, tta=True, out=None, config=config)
    cfg = apply_test_args(cfg, Namespace(**args))
    assert cfg.model.type == 'mcl_mm.MemberTTAModel'
    torch.manual_seed(0)  # the members' initialisation (their predictions differ by view)
    tta = _build(cfg.model, scope).eval()
    data = _tta_views(scope)
    with torch.no_grad():
        merged = tta.test_step(copy.deepcopy(data))
        # each member alone on each view
        views = [[tta.module.members[k].test_step(
            dict(inputs=data['inputs'][v], data_samples=copy.deepcopy(data['data_samples'][v])))
            for v in range(2)] for k in range(2)]

    def expected(k, i):
        if scope == 'mmseg':  # SegTTAModel: the mean of the views' softmaxes, its argmax
            probs = sum(views[k][v][i].seg_logits.data.softmax(0) for v in range(2)) / 2
            return probs.argmax(0)
        return sum(views[k][v][i].pred_score for v in range(2)) / 2

    def got(sample):
        return sample.pred_sem_seg.data[0] if scope == 'mmseg' else sample.pred_score

    for i in range(2):
        for k in range(2):
            assert torch.allclose(got(merged[i].member_samples[k]).float(),
                                  expected(k, i).float()), (i, k)
        assert torch.allclose(got(merged[i]).float(), expected(0, i).float())
    # the views differ, so the test tells merged from first-view predictions
    assert any(not torch.allclose(got(views[k][0][i]).float(), expected(k, i).float())
               for k in range(2) for i in range(2))

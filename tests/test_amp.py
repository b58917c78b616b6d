"""``tools/train.py --amp`` on CPU for every method: a few steps under bfloat16 autocast
(``mcl_mm.CPUAmpOptimWrapper``) with finite losses and weights; MCL in its segmentor,
classifier, layer-wise and detector forms. Tiny inputs: CPUs without native bfloat16
(AVX2 only) emulate bfloat16 convolutions (about 80 times slower than float32 there)."""
import json

import pytest
import torch
from conftest import run_tool

import mcl_mm  # noqa: F401  loads mmengine checkpoints with weights_only


def _losses(work):
    rows = [json.loads(line) for f in work.glob('*/vis_data/scalars.json')
            for line in f.read_text().splitlines()]
    return [r for r in rows if 'loss' in r]


def _seg_small(data, size=(32, 64), members=None):
    """cfg-options: the synthetic Cityscapes-format set at ``size`` crops (H, W)."""
    h, w = size
    opts = [*[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
            f'train_dataloader.dataset.pipeline.2.scale=({2 * w},{2 * h})',
            f'train_dataloader.dataset.pipeline.3.crop_size=({h},{w})',
            f'val_dataloader.dataset.pipeline.1.scale=({w},{h})',
            'train_dataloader.batch_size=2']
    for key in members or ['model']:
        opts.append(f'{key}.data_preprocessor.size=({h},{w})')
    return opts


def _cls_small(data):
    """cfg-options: the synthetic ImageNet-format set at 32x32, a memory of its 8 images."""
    return [*[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.num_workers=0' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.persistent_workers=False' for s in ('train', 'val', 'test')],
            'model.mcl_loss.memory.num_samples=8',
            'train_cfg.max_epochs=1', 'train_dataloader.batch_size=4',
            'train_dataloader.dataset.pipeline.1.scale=32',
            'val_dataloader.dataset.pipeline.1.scale=32',
            'val_dataloader.dataset.pipeline.2.crop_size=32']


CASES = {
    'cirkd': ('configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py', 'cityscapes',
              lambda d: _seg_small(d, members=['model.student', 'model.teacher']) + [
                  'model.teacher_ckpt=None', 'model.random_teacher=True',
                  'train_cfg.max_iters=2', 'train_cfg.val_interval=2'],
              ('loss_kd', 'loss_cirkd_batch', 'loss_cirkd_mem_pixel')),
    'mcl-seg': ('configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py', 'cityscapes',
                lambda d: _seg_small(d, members=['model.members.0', 'model.members.1']) + [
                    'train_cfg.max_iters=2', 'train_cfg.val_interval=2'],
                ('loss_icl', 'loss_soft_icl', 'loss_mutual_kd')),
    'mcl-cls': ('configs/mcl/resnet18x2_synthetic-imagenet.py', 'imagenet', _cls_small,
                ('loss_icl', 'loss_vcl', 'loss_soft_icl')),
    # layer-wise MCL: auxiliary branches and their logit KD as well
    'mcl-cls-lmcl': ('configs/mcl/resnet18x2_lmcl_synthetic-imagenet.py', 'imagenet',
                     _cls_small, ('m0.loss_aux0', 'loss_lmcl_kd', 'loss_icl', 'loss_soft_vcl')),
    'mcl-det': ('configs/mcl/retinanet-r18x2_synthetic-coco.py', 'coco_det',
                lambda d: [*[f'{s}_dataloader.dataset.data_root={d}/'
                             for s in ('train', 'val', 'test')],
                           *[f'{s}_evaluator.metric.ann_file={d}/annotations/'
                             'instances_val2017.json' for s in ('val', 'test')],
                           'train_cfg.max_epochs=1', 'train_cfg.val_interval=2'],
                ('m0.loss_cls', 'm1.loss_bbox', 'loss_icl', 'loss_soft_icl')),
    'hsjp': ('configs/hsjp/hsjp-2x2-res18_synthetic-coco.py', 'coco_pose',
             lambda d: [*[f'{s}_dataloader.dataset.data_root={d}/'
                          for s in ('train', 'val', 'test')],
                        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=12'],
             ('loss_kpt', )),
}


@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(CASES))
def test_amp_on_cpu_trains_every_method(case, synthetic_data, tmp_path):
    config, fmt, options, names = CASES[case]
    data = synthetic_data(fmt)
    work = tmp_path / case
    log = run_tool('tools/train.py', config, '--amp', '--work-dir', str(work), '--cfg-options',
                   *options(data), 'default_hooks.logger.interval=1')
    assert 'CPUAmpOptimWrapper' in (work / config.split('/')[-1]).read_text()
    rows = _losses(work)
    assert rows, log[-3000:]
    for row in rows:
        for name in names:
            assert name in row and torch.isfinite(torch.tensor(row[name])), (name, row)
    last = sorted(work.glob('*.pth'))[-1] if list(work.glob('*.pth')) else None
    assert last is not None
    state = torch.load(last, weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())

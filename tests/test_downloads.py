"""Checkpoints named by address (``open-mmlab://``, ``https://``): read from torch's hub cache
when it holds them, one clear error naming the address and the cache path when offline. The
tests fill a temporary cache (``TORCH_HOME``) with checkpoints they generate."""
import os
import re

import pytest
import torch
from conftest import REPO as REPO_ROOT
from conftest import run_tool
from mmengine.registry import MODELS, DefaultScope
from test_seg_distiller import KD, RECORDERS, _segmentor

from mcl_mm.engine.downloads import cache_path, checkpoint_url
from mcl_mm.models.builder import load_config

R18_V1C = 'open-mmlab://resnet18_v1c'
TEACHER_URL = 'https://download.openmmlab.com/mcl_mm-test/teacher_20261130-0123abcd.pth'


def _distiller(teacher_ckpt, **student):
    cfg = dict(type='mcl_mm.SegDistiller', teacher=_segmentor(32),
               student=dict(_segmentor(16), **student), teacher_ckpt=teacher_ckpt,
               recorders=RECORDERS, distill_losses=KD)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def test_addresses_map_to_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    assert checkpoint_url(R18_V1C) == \
        'https://download.openmmlab.com/pretrain/third_party/resnet18_v1c-b5776b93.pth'
    assert checkpoint_url('mmcls://mobilenet_v2').endswith(
        'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth')
    assert cache_path(TEACHER_URL) == str(tmp_path / 'hub' / 'checkpoints' /
                                          'teacher_20261130-0123abcd.pth')


def test_teacher_by_address_from_a_filled_cache_and_offline_error(tmp_path, monkeypatch):
    """A teacher checkpoint named by URL loads from the cache (strictly); with an empty cache
    and no network, the error names model.teacher_ckpt, the URL and where to put the file."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        _distiller(TEACHER_URL)
    message = str(err.value)
    assert message.startswith('model.teacher_ckpt: cannot download the checkpoint ' + TEACHER_URL)
    assert f'put the file ({TEACHER_URL}) at {cache_path(TEACHER_URL)}' in message

    with DefaultScope.overwrite_default_scope('mmseg'):
        teacher = MODELS.build(_segmentor(32))
    torch.nn.init.normal_(teacher.decode_head.conv_seg.weight)
    os.makedirs(os.path.dirname(cache_path(TEACHER_URL)), exist_ok=True)
    torch.save(dict(state_dict=teacher.state_dict()), cache_path(TEACHER_URL))
    model = _distiller(TEACHER_URL)
    assert torch.equal(model.teacher.decode_head.conv_seg.weight,
                       teacher.decode_head.conv_seg.weight)


def test_student_initialisation_by_address_offline_names_the_cache_path(tmp_path, monkeypatch):
    """``pretrained='open-mmlab://...'`` of a stock model: init_weights offline with an empty
    cache is one error naming the address, its URL and the cache path (not a URLError)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cfg = _segmentor(16)
    cfg['backbone'] = dict(cfg['backbone'], init_cfg=dict(type='Pretrained', checkpoint=R18_V1C))
    with DefaultScope.overwrite_default_scope('mmseg'):
        student = MODELS.build(cfg)
    with pytest.raises(FileNotFoundError, match=re.escape(
            f'cannot download the checkpoint {R18_V1C}')) as err:
        student.init_weights()
    assert str(tmp_path / 'hub' / 'checkpoints' / 'resnet18_v1c-b5776b93.pth') in str(err.value)


PAPER = 'configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_cityscapes.py'


@pytest.mark.slow
def test_paper_command_runs_from_a_filled_cache(synthetic_data, tmp_path):
    """``python tools/train.py configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_cityscapes.py`` as a user
    types it (plus the data root and a tiny crop): the model-zoo teacher and the student's
    ImageNet initialisation come from the hub cache by their addresses, no manual step."""
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    cfg = load_config(str(REPO_ROOT / PAPER))
    with DefaultScope.overwrite_default_scope('mmseg'):
        teacher = MODELS.build(load_config(cfg.model.teacher.cfg_path).model)
        backbone = MODELS.build(dict(load_config(cfg.model.student.cfg_path).model.backbone,
                                     init_cfg=None))
    torch.nn.init.normal_(backbone.stem[0].weight)
    teacher_file = cache / os.path.basename(cfg.model.teacher_ckpt)
    torch.save(dict(state_dict={k: v.half() for k, v in teacher.state_dict().items()}),
               teacher_file)
    torch.save(dict(state_dict=backbone.state_dict()), cache / 'resnet18_v1c-b5776b93.pth')
    del teacher
    data = synthetic_data('cityscapes')
    work = tmp_path / 'work'
    log = run_tool(
        'tools/train.py', PAPER, '--work-dir', str(work), '--cfg-options',
        *[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
        'train_dataloader.dataset.pipeline.2.scale=(256,128)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,128)',
        'model.student.data_preprocessor.size=(64,128)',
        'model.teacher.data_preprocessor.size=(64,128)',
        'train_cfg.max_iters=1', 'train_cfg.val_interval=100', 'optim_wrapper.optimizer.lr=0.',
        'optim_wrapper.optimizer.weight_decay=0.', 'default_hooks.checkpoint.interval=1',
        env=dict(TORCH_HOME=str(tmp_path / 'torch_home')))
    assert f'Loads checkpoint by http backend from path: {cfg.model.teacher_ckpt}' in log
    assert 'Loads checkpoint by openmmlab backend from path: open-mmlab://resnet18_v1c' in log
    assert 'Downloading' not in log
    state = torch.load(work / 'iter_1.pth', weights_only=True)['state_dict']
    for name, value in backbone.state_dict().items():
        if 'num_batches_tracked' in name or 'running' in name:
            continue  # BN statistics move in the training step; lr 0 keeps the weights
        assert torch.equal(state[f'student.backbone.{name}'], value), name

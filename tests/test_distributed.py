"""Several processes through tools/dist_train.sh (gloo on CPU), checked after real steps:
every rank holds the same queues / memories, and where the method allows it, two processes
of batch 1 train exactly as one process of batch 2."""
import pytest
import torch
from conftest import REPO, run_tool

import mcl_mm  # noqa: F401  loads mmengine checkpoints with weights_only

CIRKD_CFG = REPO / 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
# the synthetic CIRKD pair made deterministic across process layouts: a fixed pipeline (no
# random augmentation, whose draws differ per process), no dropout, SyncBN in the student
# (GlooSyncBatchNorm across the processes, BN over the whole batch in one process)
DETERMINISTIC = f"""
_base_ = [{str(CIRKD_CFG)!r}]
custom_imports = dict(imports=['mcl_mm', 'rank_state_hook'], allow_failed_imports=False)
custom_hooks = [dict(type='RankStateDumpHook')]
sync = dict(type='SyncBN', requires_grad=True)
model = dict(
    teacher_ckpt=None, random_teacher=True,
    student=dict(backbone=dict(norm_cfg=sync),
                 decode_head=dict(norm_cfg=sync, dropout_ratio=0.),
                 auxiliary_head=dict(norm_cfg=sync, dropout_ratio=0.)),
    distill_losses=dict(loss_cirkd_batch=dict(loss_weight={{batch}}),
                        loss_cirkd_mem=dict(pixel_weight={{memory}}, region_weight={{memory}},
                                            norm_cfg=sync)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
"""


def _config(tmp_path, batch_weight=1.0, memory_weight=0.1):
    path = tmp_path / f'cirkd_{batch_weight}_{memory_weight}.py'
    path.write_text(DETERMINISTIC.replace('{batch}', str(batch_weight)).replace(
        '{memory}', str(memory_weight)))
    return str(path)


def _opts(data, batch, iters=3):
    return ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                               for s in ('train', 'val', 'test')],
            f'train_dataloader.batch_size={batch}', f'train_cfg.max_iters={iters}',
            'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1',
            'randomness.seed=0', 'randomness.deterministic=True']


def _env(port):
    return dict(PORT=str(port), PYTHONPATH=str(REPO / 'tests'))


@pytest.mark.slow
def test_ranks_hold_identical_queues_after_real_steps(synthetic_data, tmp_path):
    """CIRKD through dist_train.sh on 2 processes: after 3 steps the memory queues (updated
    with the gathered batch), their pointers and the loss's generator state are identical on
    both ranks, and so are the student's weights (DDP)."""
    data = synthetic_data('cityscapes')
    work = tmp_path / 'dist'
    run_tool('tools/dist_train.sh', _config(tmp_path), '2', '--work-dir', str(work),
             *_opts(data, batch=1), env=_env(29561))
    r0 = torch.load(work / 'rank0_state.pth', weights_only=True)
    r1 = torch.load(work / 'rank1_state.pth', weights_only=True)
    queues = [k for k in r0 if 'queue' in k]
    assert len(queues) == 4, queues
    assert r0.keys() == r1.keys()
    for key in r0:
        assert torch.equal(r0[key], r1[key]), key
    start = torch.load(work / 'iter_3.pth', weights_only=True)['state_dict']
    assert start['distill_losses.loss_cirkd_mem.pixel_queue_ptr'].sum() > 0  # they moved


@pytest.mark.slow
def test_two_processes_of_batch_1_equal_one_process_of_batch_2(synthetic_data, tmp_path):
    """The student's own losses and logit KD (per-pixel means) with SyncBN: DDP's averaged
    gradient of two batch-1 processes is the gradient of one batch-2 process, so the weights
    agree after 3 steps (up to float rounding). CIRKD's mini-batch and memory losses are
    switched off here: they relate the pixels each process holds (as the authors' code does
    per GPU), so no layout of processes can reproduce another; see the README."""
    data = synthetic_data('cityscapes')
    cfg = _config(tmp_path, batch_weight=0.0, memory_weight=0.0)
    one, two = tmp_path / 'one', tmp_path / 'two'
    opts = [*_opts(data, batch=2, iters=2), 'default_hooks.checkpoint.max_keep_ckpts=2']
    run_tool('tools/train.py', cfg, '--work-dir', str(one), *opts, env=_env(29565))
    opts[opts.index('train_dataloader.batch_size=2')] = 'train_dataloader.batch_size=1'
    run_tool('tools/dist_train.sh', cfg, '2', '--work-dir', str(two), *opts, env=_env(29563))
    a1, a2, b1, b2 = (torch.load(w / f'iter_{i}.pth', weights_only=True)['state_dict']
                      for w, i in ((one, 1), (one, 2), (two, 1), (two, 2)))
    student = [k for k in a2 if k.startswith('student.') and a2[k].is_floating_point()
               and 'running' not in k]
    assert len(student) > 50

    def largest(x, y):
        return max(float((x[k] - y[k]).abs().max()) for k in student)

    # float rounding differs (a sum over two processes, GlooSyncBatchNorm's float64
    # statistics): the two layouts agree to a hundredth of what one step moves the weights
    step = largest(a2, a1)
    assert step > 1e-4
    assert largest(a1, b1) < 0.01 * step and largest(a2, b2) < 0.01 * step, \
        (largest(a1, b1), largest(a2, b2), step)


MCL_CLS = REPO / 'configs/mcl/resnet18x2_synthetic-imagenet.py'
SEG_STUDENT = 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py'


@pytest.mark.slow
def test_ranks_hold_identical_mcl_memories_after_real_steps(synthetic_data, tmp_path):
    """An MCL classifier cohort with memories through dist_train.sh on 2 processes: after an
    epoch the members' memories and their labels (updated with the gathered batch), the loss's
    generator and the weights are identical on both ranks, and the memories hold every image's
    slot."""
    data = synthetic_data('imagenet', num_train=20, num_val=10)
    cfg = tmp_path / 'mcl_dump.py'
    cfg.write_text(f"_base_ = [{str(MCL_CLS)!r}]\n"
                   "custom_imports = dict(imports=['mcl_mm', 'rank_state_hook'], "
                   "allow_failed_imports=False)\n"
                   "custom_hooks = [dict(type='RankStateDumpHook')]\n")
    work = tmp_path / 'dist'
    run_tool('tools/dist_train.sh', str(cfg), '2', '--work-dir', str(work), '--cfg-options',
             *[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
             *[f'{s}_dataloader.num_workers=0' for s in ('train', 'val', 'test')],
             *[f'{s}_dataloader.persistent_workers=False' for s in ('train', 'val', 'test')],
             'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'train_dataloader.batch_size=5',
             'model.mcl_loss.memory.num_samples=20',
             env=_env(29567))
    r0 = torch.load(work / 'rank0_state.pth', weights_only=True)
    r1 = torch.load(work / 'rank1_state.pth', weights_only=True)
    memories = [k for k in r0 if k.startswith('mcl_loss.memory')]
    assert 'mcl_loss.memory_labels' in memories and len(memories) >= 3
    for key in r0:  # BN statistics are per rank (plain BN); everything else is shared
        if 'running_' not in key and 'num_batches_tracked' not in key:
            assert torch.equal(r0[key], r1[key]), key
    assert (r0['mcl_loss.memory_labels'][:20] >= 0).all()


# a member whose parameters are not all in its loss (layer4 unused, as the final conv of mmdet's
# YOLOv3-MobileNetV2): its config sets find_unused_parameters=True, as that stock config does
UNUSED_MEMBER = f"""
_base_ = [{str(REPO / 'configs/baselines/resnet18_synthetic-imagenet.py')!r}]
model = dict(backbone=dict(out_indices=(2, )), head=dict(in_channels=256))
find_unused_parameters = True
"""


def _unused_group(tmp_path, extra=''):
    member = tmp_path / 'member.py'
    member.write_text(UNUSED_MEMBER)
    group = tmp_path / f'group{len(extra)}.py'
    group.write_text(
        f"_base_ = [{str(REPO / 'configs/baselines/resnet18_synthetic-imagenet.py')!r}]\n"
        "model = dict(_delete_=True, type='mcl_mm.ModelGroup',\n"
        f"             members=[dict(cfg_path={str(member)!r}), dict(cfg_path={str(member)!r})])\n"
        + extra)
    return str(group)


def test_members_configs_find_unused_parameters_is_recorded(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mcl_mm.registry import MODELS
    init_default_scope('mmpretrain')
    group = MODELS.build(Config.fromfile(_unused_group(tmp_path)).model)
    assert group.unused_parameters_from == [f'model.members[{k}] ({tmp_path}/member.py)'
                                            for k in (0, 1)]
    single = MODELS.build(dict(type='mcl_mm.ModelGroup', members=[
        dict(cfg_path=str(REPO / 'configs/baselines/resnet18_synthetic-imagenet.py'))]))
    assert single.unused_parameters_from == []
    # a CIRKD student given by cfg_path (the frozen teacher has no gradients to reduce)
    student = tmp_path / 'student.py'
    student.write_text(f"_base_ = [{str(REPO / SEG_STUDENT)!r}]\nfind_unused_parameters = True\n")
    cfg = Config.fromfile(str(CIRKD_CFG))
    cfg.model.update(teacher_ckpt=None, random_teacher=True, student=dict(cfg_path=str(student)))
    init_default_scope('mmseg')
    assert MODELS.build(cfg.model).unused_parameters_from == [f'model.student ({student})']


@pytest.mark.slow
def test_ddp_gets_find_unused_parameters_from_the_members_configs(synthetic_data, tmp_path):
    """Two members from a config that sets find_unused_parameters=True train with DDP on 2
    processes (without it DDP stops at the second step); a config that sets it False keeps
    it (and DDP stops, as it would for the member alone)."""
    data = synthetic_data('imagenet', num_train=8, num_val=4)
    opts = ['--cfg-options',
            *[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.num_workers=0' for s in ('train', 'val', 'test')],
            *[f'{s}_dataloader.persistent_workers=False' for s in ('train', 'val', 'test')],
            'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2']
    log = run_tool('tools/dist_train.sh', _unused_group(tmp_path), '2', '--work-dir',
                   str(tmp_path / 'w'), *opts, env=_env(29569))
    assert 'DDP with find_unused_parameters=True: the config of model.members[0]' in log
    assert 'Epoch(train) [1][2/2]' in log
    with pytest.raises(AssertionError, match='Expected to have finished reduction'):
        run_tool('tools/dist_train.sh',
                 _unused_group(tmp_path, 'find_unused_parameters = False\n'), '2',
                 '--work-dir', str(tmp_path / 'w2'), *opts, env=_env(29570))

"""tools/train.py, tools/test.py and tools/dist_train.sh on the synthetic sets.

Each run is a few iterations on tiny images; they are marked ``slow`` but run in CI.
"""
import json
import os
import re
from argparse import Namespace
from pathlib import Path

import pytest
import torch
from conftest import REPO, run_tool
from mmengine.config import Config

SEG = 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'
DET = 'configs/baselines/retinanet-r18_synthetic-coco.py'
POSE = 'configs/baselines/td-hm-res18_synthetic-coco.py'
CLS = 'configs/baselines/resnet18_synthetic-imagenet.py'
MCL_SEG = 'configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py'
CLS_COHORT = 'configs/mcl/resnet18x2_synthetic-imagenet.py'


def _seg_opts(data, iters=4, ckpt_interval=2):
    return ['--cfg-options', *[f'{split}_dataloader.dataset.data_root={data}'
                               for split in ('train', 'val', 'test')],
            f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={ckpt_interval}', 'train_dataloader.batch_size=2',
            'default_hooks.logger.interval=1']


def _coco_opts(data, ann_file, epochs=1):
    """--cfg-options that point an mmdet/mmpose config at a synthetic COCO-format set."""
    ann = f'{data}/annotations/{ann_file}'
    return ['--cfg-options', *[f'{split}_dataloader.dataset.data_root={data}/'
                               for split in ('train', 'val', 'test')],
            f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}',
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}']


def _last_checkpoint(work_dir: Path) -> Path:
    return Path((work_dir / 'last_checkpoint').read_text().strip())


def _scalars(work_dir: Path):
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


@pytest.mark.slow
def test_seg_train_test_resume_load_from(synthetic_data, tmp_path):
    data = synthetic_data('cityscapes')
    work = tmp_path / 'seg'
    run_tool('tools/train.py', SEG, '--work-dir', str(work), *_seg_opts(data))
    ckpt = _last_checkpoint(work)
    assert ckpt.name == 'iter_4.pth'
    # mmengine checkpoints load with weights_only=True (the default of torch >= 2.6)
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert 'message_hub' in state and state['meta']['iter'] == 4

    # --resume continues from the last checkpoint in the work dir
    log = run_tool('tools/train.py', SEG, '--work-dir', str(work), '--resume',
                   *_seg_opts(data, iters=6))
    assert re.search(r'resumed epoch: 0, iter: 4', log), log[-3000:]
    assert _last_checkpoint(work).name == 'iter_6.pth'
    iters = [s['iter'] for s in _scalars(work) if 'loss' in s]
    assert iters[-2:] == [5, 6]
    # --resume CHECKPOINT (mmdet's, mmpose's, mmpretrain's form): that one, not the latest
    log = run_tool('tools/train.py', SEG, '--work-dir', str(work), '--resume', str(ckpt),
                   *_seg_opts(data, iters=5))
    assert re.search(r'resumed epoch: 0, iter: 4', log), log[-3000:]
    assert _last_checkpoint(work).name == 'iter_5.pth'

    # load_from starts a new run from the weights; --auto-scale-lr: batch 2 against the
    # config's base_batch_size 4; --no-validate: no validation at the end
    work2 = tmp_path / 'seg_load_from'
    log = run_tool('tools/train.py', SEG, '--work-dir', str(work2), '--auto-scale-lr',
                   '--no-validate', *_seg_opts(data, iters=2), f'load_from={ckpt}')
    assert 'Load checkpoint from' in log
    assert 'Scaling the original LR by 0.5' in log and not re.search(r'mIoU: \d', log)
    lr = [s['lr'] for s in _scalars(work2) if s.get('iter') == 1]
    assert lr and lr[0] == pytest.approx(0.05 * 0.5, rel=1e-3)

    # tools/test.py: mIoU, --out (label maps), --show-dir (painted images), --tta
    out, show = tmp_path / 'pred', tmp_path / 'show'
    test_only = ['--cfg-options', f'test_dataloader.dataset.data_root={data}']  # no train data
    log = run_tool('tools/test.py', SEG, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                   '--out', str(out), '--show-dir', str(show), *test_only)
    assert re.search(r'mIoU: \d+\.\d+', log)
    assert len(list(out.glob('*.png'))) == 4
    assert len(list(show.rglob('*.png'))) == 4
    log = run_tool('tools/test.py', SEG, str(ckpt), '--work-dir', str(tmp_path / 'tta'),
                   '--tta', *test_only)
    assert re.search(r'mIoU: \d+\.\d+', log)


@pytest.mark.slow
def test_dist_train_two_gloo_processes(synthetic_data, tmp_path):
    data = synthetic_data('cityscapes')
    work = tmp_path / 'dist'
    log = run_tool('tools/dist_train.sh', SEG, '2', '--work-dir', str(work),
                   *_seg_opts(data, iters=2, ckpt_interval=2), env=dict(PORT='29517'))
    assert 'started a gloo process group, rank 0 of 2' in log
    assert 'started a gloo process group, rank 1 of 2' in log
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']
    assert re.search(r'mIoU: \d+\.\d+', log)
    # the checkpoint of a DDP run holds the bare model's keys and tests on two processes
    assert all(not k.startswith('module.') for k in torch.load(work / 'iter_2.pth')['state_dict'])
    metrics = tmp_path / 'metrics.json'
    log = run_tool('tools/dist_test.sh', SEG, str(work / 'iter_2.pth'), '2', '--work-dir',
                   str(tmp_path / 'dist_test'), '--out', str(metrics), '--out-item', 'metrics',
                   '--cfg-options', f'test_dataloader.dataset.data_root={data}',
                   env=dict(PORT='29518'))
    assert 'rank 1 of 2' in log and re.search(r'mIoU: \d+\.\d+', log)
    # the metrics of the whole test set, written once (by rank 0)
    assert log.count('test metrics written to') == 1
    assert f"mIoU: {json.loads(metrics.read_text())['mIoU']:.4f}" in log


@pytest.mark.slow
def test_det_train_and_test(synthetic_data, tmp_path):
    data = synthetic_data('coco_det')
    work = tmp_path / 'det'
    # one epoch from scratch scores below the stock 0.05 threshold
    opts = [*_coco_opts(data, 'instances_val2017.json'), 'model.test_cfg.score_thr=0.0']
    run_tool('tools/train.py', DET, '--work-dir', str(work), *opts)
    ckpt = _last_checkpoint(work)
    out = tmp_path / 'det.pkl'
    log = run_tool('tools/test.py', DET, str(ckpt), '--work-dir', str(tmp_path / 't'),
                   '--out', str(out), *opts)
    assert re.search(r'coco/bbox_mAP: \d+\.\d+', log)
    assert out.stat().st_size > 0


@pytest.mark.slow
def test_pose_train_and_test(synthetic_data, tmp_path):
    data = synthetic_data('coco_pose')
    work = tmp_path / 'pose'
    opts = _coco_opts(data, 'person_keypoints_val2017.json')
    run_tool('tools/train.py', POSE, '--work-dir', str(work), *opts)
    ckpt = _last_checkpoint(work)
    log = run_tool('tools/test.py', POSE, str(ckpt), '--work-dir', str(tmp_path / 't'),
                   '--tta', *opts)
    assert re.search(r'coco/AP: \d+\.\d+', log)
    # mmpose's --out (the metrics), --dump (the predictions) and --badcase, whose painting
    # of the ground-truth keypoints needs mcl_mm.PoseLocalVisualizer on NumPy >= 2.4
    metrics, dump = tmp_path / 'metrics.json', tmp_path / 'pred.pkl'
    run_tool('tools/test.py', POSE, str(ckpt), '--work-dir', str(tmp_path / 'b'), '--out',
             str(metrics), '--dump', str(dump), '--badcase', *opts)
    assert 'coco/AP' in json.loads(metrics.read_text())
    assert dump.stat().st_size > 0
    painted = list((tmp_path / 'b').rglob('badcase/*.jpg'))
    (results, ) = (tmp_path / 'b').rglob('badcase/results.json')
    assert painted and len(painted) == len(json.loads(results.read_text()))


def _args(**kw):
    base = dict(config='x.py', work_dir=None, cfg_options=None, launcher='none', amp=False,
                resume=False, checkpoint='c.pth', show=False, show_dir=None, wait_time=2,
                tta=False, out=None)
    return Namespace(**{**base, **kw})


def test_train_args_edit_the_config():
    from mcl_mm.engine import apply_train_args
    args = _args(config=SEG, amp=True, resume=True)
    cfg = apply_train_args(Config.fromfile(str(REPO / SEG)), args)
    import torch
    # MMEngine's AmpOptimWrapper needs CUDA; without it --amp picks mcl_mm's bf16 CPU wrapper
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() else 'mcl_mm.CPUAmpOptimWrapper'
    assert cfg.optim_wrapper.type == expected and cfg.resume
    assert cfg.work_dir.endswith('work_dirs/deeplabv3-r18_synthetic-cityscapes')
    assert cfg.get('load_from') is None and not cfg.auto_scale_lr.enable
    assert cfg.val_dataloader is not None
    # mmdet's, mmpose's and mmpretrain's flags: --resume CHECKPOINT, --auto-scale-lr,
    # --no-validate
    args = _args(config=SEG, resume='w/iter_4.pth', auto_scale_lr=True, no_validate=True)
    cfg = apply_train_args(Config.fromfile(str(REPO / SEG)), args)
    assert cfg.resume and cfg.load_from == 'w/iter_4.pth' and cfg.auto_scale_lr.enable
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    cfg = apply_train_args(Config.fromfile(str(REPO / SEG)), _args(resume='auto'))
    assert cfg.resume and cfg.get('load_from') is None
    cfg = Config.fromfile(str(REPO / SEG))
    cfg.auto_scale_lr = None
    with pytest.raises(ValueError, match=r'--auto-scale-lr needs auto_scale_lr=dict\('
                                         r'base_batch_size=N\)'):
        apply_train_args(cfg, _args(auto_scale_lr=True))
    cfg = Config.fromfile(str(REPO / SEG))
    cfg.optim_wrapper.type = 'MyWrapper'
    with pytest.raises(ValueError, match="optim_wrapper.type='OptimWrapper'"):
        apply_train_args(cfg, _args(amp=True))


def test_test_args_per_toolbox():
    from mcl_mm.engine import apply_test_args
    det = apply_test_args(Config.fromfile(str(REPO / DET)), _args(out='r.pkl', show_dir='v'))
    assert det.test_evaluator[-1].type == 'mmdet.DumpDetResults'
    assert det.default_hooks.visualization.test_out_dir == 'v'
    with pytest.raises(ValueError, match='.pkl'):
        apply_test_args(Config.fromfile(str(REPO / DET)), _args(out='r.json'))
    pose = Config.fromfile(str(REPO / POSE))
    pose.model.test_cfg.flip_test = False
    pose = apply_test_args(pose, _args(tta=True, show_dir='v'))
    assert pose.model.test_cfg.flip_test and pose.default_hooks.visualization.enable
    seg = apply_test_args(Config.fromfile(str(REPO / SEG)), _args(out='o', tta=True))
    assert seg.model.type == 'SegTTAModel' and seg.test_evaluator.output_dir == 'o'
    assert seg.load_from == 'c.pth' and seg.train_dataloader is None
    # mcl_mm models in the mmseg scope without an IoUMetric (classifier, cohort) dump a .pkl
    for config in ('configs/baselines/resnet18_synthetic-imagenet.py',
                   'configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py'):
        cfg = apply_test_args(Config.fromfile(str(REPO / config)), _args(out='r.pkl'))
        assert cfg.test_evaluator[-1].type == 'DumpResults'
    # a segmentation cohort's --out DIR: each member's label maps in DIR/m{k} (MemberMetric)
    cfg = apply_test_args(Config.fromfile(str(REPO / MCL_SEG)), _args(out='o'))
    assert cfg.test_evaluator.type == 'mcl_mm.MemberMetric'
    assert cfg.test_evaluator.metric.output_dir == 'o'


def test_test_args_of_mmpose_and_mmpretrain():
    """--out writes what each toolbox's test.py writes (mmpose: the metrics), --out-item,
    --dump, --badcase, --amp, --interval, --no-pin-memory, mmpretrain's --tta and data
    loader defaults."""
    from mcl_mm.engine import apply_test_args
    from mcl_mm.engine.runner_cfg import metrics_out_file
    pose = Config.fromfile(str(REPO / POSE))
    args = _args(out='m.json', dump='p.pkl', badcase=True, show_dir='v', interval=3)
    pose = apply_test_args(pose, args)
    assert metrics_out_file(pose, args) == 'm.json'  # as mmpose: metrics, not predictions
    dumps = [e for e in pose.test_evaluator if e.type == 'DumpResults']
    assert [d.out_file_path for d in dumps] == ['p.pkl']
    hook = pose.default_hooks.badcase
    assert hook.enable and hook.interval == 3 and hook.metric == pose.model.head.loss
    assert pose.default_hooks.visualization.interval == 3
    with pytest.raises(ValueError, match='--dump .* must be a .pkl file'):
        apply_test_args(Config.fromfile(str(REPO / POSE)), _args(dump='p.json'))
    with pytest.raises(ValueError, match='--badcase needs an mmpose config'):
        apply_test_args(Config.fromfile(str(REPO / SEG)), _args(badcase=True))
    with pytest.raises(ValueError, match='--out-item metrics needs --out'):
        apply_test_args(Config.fromfile(str(REPO / CLS)), _args(out_item='metrics'))
    # mmpretrain: predictions by default, the metrics with --out-item metrics (any toolbox)
    args = _args(out='r.pkl')
    cls = apply_test_args(Config.fromfile(str(REPO / CLS)), args)
    assert cls.test_evaluator[-1].type == 'DumpResults' and metrics_out_file(cls, args) is None
    for config in (CLS, SEG):
        args = _args(out='m.json', out_item='metrics')
        cfg = apply_test_args(Config.fromfile(str(REPO / config)), args)
        assert metrics_out_file(cfg, args) == 'm.json'
        assert 'DumpResults' not in str(cfg.test_evaluator) and 'output_dir' not in str(
            cfg.test_evaluator)
    # mmpretrain's test loader defaults (no persistent workers), --no-pin-memory, --amp
    cls = apply_test_args(Config.fromfile(str(REPO / CLS)), _args())
    loader = cls.test_dataloader
    assert loader.pin_memory and loader.collate_fn.type == 'default_collate'
    assert 'persistent_workers' not in loader
    cls = apply_test_args(Config.fromfile(str(REPO / CLS)), _args(no_pin_memory=True, amp=True))
    assert cls.test_dataloader.pin_memory is False and cls.test_cfg.fp16
    # mmpretrain's --tta without tta_model/tta_pipeline: the class scores of a flip
    cls = apply_test_args(Config.fromfile(str(REPO / CLS)), _args(tta=True))
    assert cls.model.type == 'mmpretrain.AverageClsScoreTTA'
    assert cls.test_dataloader.dataset.pipeline[-1].type == 'TestTimeAug'
    cohort = apply_test_args(Config.fromfile(str(REPO / CLS_COHORT)), _args(tta=True))
    assert cohort.model.type == 'mcl_mm.MemberTTAModel'
    assert cohort.model.tta_model.type == 'mmpretrain.AverageClsScoreTTA'


def test_train_args_of_mmpose_and_mmpretrain():
    """mmpose's --show-dir/--interval (validation images), mmpretrain's data loader
    defaults and --no-pin-memory/--no-persistent-workers."""
    from mcl_mm.engine import apply_train_args
    pose = apply_train_args(Config.fromfile(str(REPO / POSE)), _args(show_dir='v', interval=2))
    hook = pose.default_hooks.visualization
    assert hook.enable and hook.out_dir == 'v' and hook.interval == 2
    cls = apply_train_args(Config.fromfile(str(REPO / CLS)), _args())
    for split in ('train', 'val', 'test'):
        loader = cls[f'{split}_dataloader']
        assert loader.pin_memory and loader.persistent_workers, split
        assert loader.collate_fn.type == 'default_collate', split
    cls = Config.fromfile(str(REPO / CLS))
    cls.train_dataloader.num_workers = 0  # torch refuses persistent workers without workers
    cls = apply_train_args(cls, _args(no_pin_memory=True))
    assert 'persistent_workers' not in cls.train_dataloader
    assert not cls.train_dataloader.pin_memory and not cls.val_dataloader.pin_memory
    cls = apply_train_args(Config.fromfile(str(REPO / CLS)), _args(no_persistent_workers=True))
    assert cls.val_dataloader.persistent_workers is False
    # the other toolboxes' loaders are left as their configs have them
    seg = apply_train_args(Config.fromfile(str(REPO / SEG)), _args())
    assert 'collate_fn' not in seg.train_dataloader


def test_pose_visualizer_paints_keypoints():
    """mcl_mm.PoseLocalVisualizer paints keypoints where mmpose's fails (NumPy >= 2.4), and
    the tools put it in place of mmpose's there."""
    import numpy as np
    from mmengine.registry import VISUALIZERS, DefaultScope
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    from mcl_mm.engine import apply_test_args
    from mcl_mm.visualization import numpy_refuses_array_to_int
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(keypoints=np.array([[[10., 10.], [20., 20.]]]),
                                         keypoint_scores=np.array([[0.9, 0.9]]))
    meta = dict(num_keypoints=2, keypoint_colors=np.array([[255, 0, 0], [0, 255, 0]]),
                skeleton_links=[], skeleton_link_colors=np.zeros((0, 3)))
    painted = {}
    for name, vis_type in (('ours', 'mcl_mm.PoseLocalVisualizer'),
                           ('stock', 'PoseLocalVisualizer')):
        with DefaultScope.overwrite_default_scope('mmpose'):
            vis = VISUALIZERS.build(dict(type=vis_type, radius=3, name=f'test_{name}'))
        vis.set_dataset_meta(meta)
        try:
            vis.add_datasample('x', np.zeros((32, 32, 3), np.uint8), sample, draw_gt=False,
                               draw_bbox=False, show=False)
            painted[name] = int((vis.get_image().sum(-1) > 0).sum())
        except TypeError:
            painted[name] = None
    assert painted['ours'] > 0
    if numpy_refuses_array_to_int():
        assert painted['stock'] is None
    else:
        assert painted['stock'] == painted['ours']
    cfg = apply_test_args(Config.fromfile(str(REPO / POSE)), _args())
    expected = 'mcl_mm.PoseLocalVisualizer' if numpy_refuses_array_to_int() else \
        'PoseLocalVisualizer'
    assert cfg.visualizer.type == expected


def test_cpu_distributed_without_torchrun_env_is_untouched():
    from mcl_mm.engine import setup_cpu_distributed
    cfg = Config.fromfile(str(REPO / SEG))
    cfg.launcher = 'none'
    assert not setup_cpu_distributed(cfg) and 'model_wrapper_cfg' not in cfg
    if not torch.cuda.is_available():
        cfg.launcher = 'slurm'
        with pytest.raises(RuntimeError, match='--launcher pytorch'):
            setup_cpu_distributed(cfg)
        cfg.launcher = 'pytorch'  # without torchrun's environment
        env = {k: os.environ.pop(k) for k in ('RANK', 'WORLD_SIZE') if k in os.environ}
        try:
            with pytest.raises(RuntimeError, match='tools/dist_train.sh'):
                setup_cpu_distributed(cfg)
        finally:
            os.environ.update(env)


@pytest.mark.parametrize('script, args, expected', [
    ('tools/slurm_train.sh', ['part', 'job', 'cfg.py', '--work-dir', 'w'],
     'tools/train.py cfg.py --work-dir w --launcher=slurm'),
    ('tools/slurm_test.sh', ['part', 'job', 'cfg.py', 'c.pth', '--tta'],
     'tools/test.py cfg.py c.pth --tta --launcher=slurm'),
])
def test_slurm_scripts_call_srun(tmp_path, script, args, expected):
    srun = tmp_path / 'srun'
    srun.write_text('#!/usr/bin/env bash\necho "SRUN $*"\n')
    srun.chmod(0o755)
    out = run_tool(script, *args, env=dict(PATH=f'{tmp_path}:{os.environ["PATH"]}', GPUS='8'))
    line = next(line for line in out.splitlines() if line.startswith('SRUN '))
    assert '-p part --job-name=job' in line and '--ntasks=8' in line
    assert line.endswith(expected), line


@pytest.mark.parametrize('tool, flags', [
    ('tools/train.py', ['--work-dir', '--resume', '--amp', '--cfg-options', '--launcher',
                        '--local_rank', '--auto-scale-lr', '--no-validate', '--show',
                        '--show-dir', '--interval', '--wait-time', '--no-pin-memory',
                        '--no-persistent-workers']),
    ('tools/test.py', ['--work-dir', '--out', '--show', '--show-dir', '--wait-time', '--tta',
                       '--cfg-options', '--launcher', '--local_rank', '--dump', '--badcase',
                       '--out-item', '--amp', '--interval', '--no-pin-memory']),
])
def test_tool_interface_matches_mmseg(tool, flags):
    out = run_tool(tool, '--help')
    for flag in flags:
        assert re.search(rf'{flag}(?![\w-])', out), flag
    assert '{none,pytorch,slurm,mpi}' in out


@pytest.mark.slow
def test_mcl_mm_component_trains_through_tools(synthetic_data, tmp_path):
    """A config that inherits ours, keeps default_scope='mmseg' and names mcl_mm.ModelGroup."""
    data = synthetic_data('cityscapes')
    cfg = tmp_path / 'group.py'
    cfg.write_text(
        f"_base_ = ['{REPO / SEG}']\n"
        "custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)\n"
        "model = dict(_delete_=True, type='mcl_mm.ModelGroup', predict_member=1,\n"
        "             members=[{{_base_.model}}, {{_base_.model}}])\n")
    work = tmp_path / 'group'
    log = run_tool('tools/train.py', str(cfg), '--work-dir', str(work),
                   *_seg_opts(data, iters=2, ckpt_interval=2))
    assert 'm0.decode.loss_ce' in log and 'm1.aux.loss_ce' in log
    assert re.search(r'mIoU: \d+\.\d+', log)
    keys = torch.load(_last_checkpoint(work))['state_dict']
    assert any(k.startswith('members.1.backbone.') for k in keys)


@pytest.mark.slow
def test_camvid_config_trains_on_the_camvid_layout(synthetic_data, tmp_path):
    """configs/_base_/datasets/camvid.py + mcl_mm.CamVidDataset through the tools."""
    data = synthetic_data('camvid')
    opts = ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                               for s in ('train', 'val', 'test')],
            'model.pretrained=None', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False']
    work = tmp_path / 'camvid'
    log = run_tool('tools/train.py', 'configs/cirkd/deeplabv3-r18_40k_camvid.py', '--work-dir',
                   str(work), *opts)
    assert re.search(r'mIoU: \d+\.\d+', log) and 'Bicyclist' in log  # the 11 CamVid classes
    assert (work / 'iter_2.pth').exists()


@pytest.mark.slow
def test_tensorboard_flag_logs_losses_and_miou(synthetic_data, tmp_path):
    """tools/train.py --tensorboard: the event file holds the training losses and the
    validation mIoU, for any config (here the demo teacher's)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    data = synthetic_data('cityscapes')
    work = tmp_path / 'tb'
    run_tool('tools/train.py', 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py',
             '--work-dir', str(work), '--tensorboard', '--cfg-options',
             *[f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')],
             'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
             'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    events = list(work.glob('*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1, events
    tags = EventAccumulator(str(events[0].parent)).Reload().Tags()['scalars']
    for tag in ('loss', 'decode.loss_ce', 'lr', 'mIoU'):
        assert tag in tags, (tag, tags)
    from mcl_mm.engine.runner_cfg import add_tensorboard
    cfg = Config.fromfile(str(REPO / SEG))
    backends = [b['type'] for b in add_tensorboard(add_tensorboard(cfg)).visualizer.vis_backends]
    assert backends == ['LocalVisBackend', 'TensorboardVisBackend']


@pytest.mark.slow
def test_demo_prints_progress_table_and_writes_the_panel(synthetic_data, tmp_path):
    """tools/demo.py end to end at 2 iterations per run: a progress line per stage, the mIoU
    table of the four runs, and the PNG (header + one row per validation image; columns image,
    ground truth and the four predictions, each an image wide)."""
    import cv2
    data = synthetic_data('cityscapes')
    work = tmp_path / 'demo'
    out = run_tool('tools/demo.py', '--work-dir', str(work), '--iters', '2',
                   '--data-root', str(data), timeout=1200)
    progress = [line for line in out.splitlines() if re.match(r'\[demo \d/7 +\d+\.\d s\]', line)]
    assert len(progress) == 7, out
    rows = re.findall(r'^\[demo\] \| (.+?) +\| +(\d+\.\d\d) \|$', out, flags=re.M)
    assert [r[0].split()[0] for r in rows] == ['teacher', 'student'] + ['student'] * 2, out
    assert [r[0] for r in rows][2:] == ['student  + logit KD',
                                        'student  + CIRKD (logit KD + relations)']
    panel = cv2.imread(str(work / 'demo.png'))
    image = cv2.imread(next(data.glob('leftImg8bit/val/*/*.png')).as_posix())
    h, w = image.shape[:2]
    assert panel.shape[1] == 6 * w and (panel.shape[0] - 28) == 4 * h, panel.shape
    assert (work / 'cirkd' / 'iter_2.pth').is_file()

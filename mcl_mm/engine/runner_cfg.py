"""Turn the command-line arguments of ``tools/train.py`` / ``tools/test.py`` into config edits.

The arguments are those of mmseg 1.2.2's tools and those mmdet's, mmpose's and mmpretrain's
add: train.py ``--resume CHECKPOINT``, ``--auto-scale-lr``, ``--no-validate``, ``--show``,
``--show-dir``, ``--interval``, ``--wait-time`` (mmpose), ``--no-pin-memory``,
``--no-persistent-workers`` (mmpretrain); test.py ``--dump``, ``--badcase`` (mmpose),
``--out-item``, ``--amp``, ``--no-pin-memory`` (mmpretrain), ``--interval``. The task toolbox
comes from the config's ``default_scope`` (``mmseg``, ``mmdet``, ``mmpose`` or ``mmpretrain``),
so the same tools serve all four; what differs between the toolboxes follows each one's tools:
the visualisation hook, what ``--out`` writes, ``--tta``, and mmpretrain's data loader defaults.
"""
import argparse
import logging
import os
import os.path as osp
from copy import deepcopy
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log

from .dist import setup_cpu_distributed


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add the arguments train.py and test.py share (as mmseg's tools), parse, and set
    ``LOCAL_RANK`` from ``--local_rank`` when the launcher did not."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy '
        'format will be merged into config file. If the value to be overwritten is a list, '
        'it should be like key="[a,b]" or key=a,b. It also allows nested list/tuple values, '
        'e.g. key="[(a,b),(c,d)]". Note that the quotation marks are necessary and that no '
        'white space is allowed.')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank with torch >= 2.0
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def add_visualization_args(parser: argparse.ArgumentParser) -> None:
    """``--show``, ``--show-dir``, ``--interval``, ``--wait-time`` (train.py: as mmpose's, painting
    the validation images)."""
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved (mmseg: the visualizer\'s save_dir; '
        'mmdet: test_out_dir, else the visualizer\'s; mmpose/mmpretrain: the hook\'s out_dir)')
    parser.add_argument('--interval', type=int, default=1,
                        help='paint every INTERVAL-th image (default 1: every one)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')


def _common(cfg: Config, args) -> Config:
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    setup_cpu_distributed(cfg)
    _pose_visualizer_for_numpy(cfg)
    return cfg


def _pose_visualizer_for_numpy(cfg: Config) -> None:
    """mmpose's ``PoseLocalVisualizer`` fails on NumPy >= 2.4 at the first keypoint it paints:
    :class:`mcl_mm.visualization.PoseLocalVisualizer` takes its place there."""
    visualizer = cfg.get('visualizer')
    if cfg.get('default_scope') != 'mmpose' or not isinstance(visualizer, dict) or \
            visualizer.get('type') not in ('PoseLocalVisualizer', 'mmpose.PoseLocalVisualizer'):
        return
    from mcl_mm.visualization import numpy_refuses_array_to_int
    if numpy_refuses_array_to_int():
        visualizer['type'] = 'mcl_mm.PoseLocalVisualizer'
        print_log("visualizer: mcl_mm.PoseLocalVisualizer in place of mmpose's "
                  'PoseLocalVisualizer, whose keypoint painting fails on this NumPy '
                  f'({np.__version__}: int() of a one-element array)', logger='current')


def apply_train_args(cfg: Config, args) -> Config:
    """``--work-dir``, ``--resume [CHECKPOINT]``, ``--amp``, ``--auto-scale-lr``,
    ``--no-validate``, ``--tensorboard``, ``--show``, ``--show-dir``, ``--interval``,
    ``--wait-time``, ``--no-pin-memory``, ``--no-persistent-workers``, ``--cfg-options``,
    ``--launcher``."""
    _common(cfg, args)
    if getattr(args, 'auto_scale_lr', False):
        scale = cfg.get('auto_scale_lr')
        if not isinstance(scale, dict) or 'base_batch_size' not in scale:
            raise ValueError(
                '--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=N) in the config: '
                'N is the total batch size (processes x batch per process) its learning rate '
                f'is set for; the config has auto_scale_lr={scale!r}')
        scale['enable'] = True
    if getattr(args, 'no_validate', False):
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif wrapper != 'OptimWrapper':
            raise ValueError(
                f"--amp needs optim_wrapper.type='OptimWrapper' in the config, got '{wrapper}'")
        elif torch.cuda.is_available():  # float16 with dynamic loss scaling
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:  # MMEngine's AmpOptimWrapper refuses CPUs: bfloat16 autocast
            cfg.optim_wrapper.type = 'mcl_mm.CPUAmpOptimWrapper'
            if cfg.get('default_scope') == 'mmpose' and isinstance(cfg.get('model'), dict):
                # mmpose's heads compute their training accuracy in numpy, which has no
                # bfloat16: under CPU autocast it is not computed (the losses are)
                cfg.model.setdefault('train_cfg', ConfigDict())['compute_acc'] = False
                print_log('--amp on CPU: mmpose heads skip their training accuracy (numpy '
                          'has no bfloat16)', logger='current', level=logging.WARNING)
    # --resume: latest (or load_from), as mmseg's; --resume CHECKPOINT: that one, as mmdet's
    cfg.resume = bool(args.resume)
    if isinstance(args.resume, str) and args.resume != 'auto':
        cfg.load_from = args.resume
    if getattr(args, 'tensorboard', False):
        add_tensorboard(cfg)
    if getattr(args, 'show', False) or getattr(args, 'show_dir', None):
        _enable_visualization(cfg, args, _scope(cfg), testing=False)
    _dataloader_settings(cfg, args, ('train', 'val', 'test'), training=True)
    return cfg


# mmpretrain's tools/train.py and test.py give each data loader these unless its config sets
# them (test.py: the first and the last); --no-pin-memory / --no-persistent-workers turn the
# first two off in any toolbox
PRETRAIN_LOADER_DEFAULTS = dict(pin_memory=True, persistent_workers=True,
                                collate_fn=dict(type='default_collate'))


def _dataloader_settings(cfg: Config, args, splits: Sequence[str], training: bool) -> None:
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        if cfg.get('default_scope') == 'mmpretrain':
            for key, value in PRETRAIN_LOADER_DEFAULTS.items():
                # (torch refuses persistent workers without workers: left out there)
                if key != 'persistent_workers' or training and loader.get('num_workers', 0):
                    loader.setdefault(key, deepcopy(value))
        if getattr(args, 'no_pin_memory', False):
            loader['pin_memory'] = False
        if getattr(args, 'no_persistent_workers', False):
            loader['persistent_workers'] = False


def add_tensorboard(cfg: Config) -> Config:
    """Log to TensorBoard as well: a ``TensorboardVisBackend`` joins the visualizer's
    backends (``--cfg-options`` cannot append a dict to a list). Event files go to
    ``WORK_DIR/<timestamp>/vis_data``; ``tensorboard --logdir WORK_DIR`` shows the losses, the
    learning rate and the validation metrics."""
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        raise ValueError('--tensorboard needs a `visualizer` in the config (the toolboxes\' '
                         'default runtimes define one)')
    backends = list(visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any('Tensorboard' in str(b.get('type', '')) for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends
    return cfg


SCOPES = ('mmseg', 'mmdet', 'mmpose', 'mmpretrain')


def _scope(cfg: Config) -> str:
    scope = cfg.get('default_scope', None)
    if scope not in SCOPES:
        raise ValueError(
            f"default_scope='{scope}' in the config: tools/test.py supports configs whose "
            f"default_scope is one of {', '.join(repr(s) for s in SCOPES)}")
    return scope


def _enable_visualization(cfg: Config, args, scope: str, testing: bool) -> None:
    hook = cfg.get('default_hooks', {}).get('visualization', None)
    if hook is None:
        raise ValueError(
            '--show/--show-dir need a visualization hook in default_hooks '
            "(e.g. default_hooks.visualization=dict(type='SegVisualizationHook'))")
    hook['show'] = args.show and not getattr(args, 'badcase', False)  # (mmpose's)
    hook['wait_time'] = args.wait_time
    # every --interval-th image (default each; mmseg's and mmdet's hooks paint every 50th)
    hook['interval'] = getattr(args, 'interval', 1)
    if scope in ('mmpose', 'mmpretrain'):
        hook['enable'] = True
        hook['out_dir'] = args.show_dir
    else:
        hook['draw'] = True
        if args.show_dir and scope == 'mmdet' and testing:
            hook['test_out_dir'] = args.show_dir
        elif args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir


def _enable_badcase(cfg: Config, args) -> None:
    """mmpose's ``--badcase``: its ``BadCaseAnalysisHook`` (default_hooks.badcase) on, scoring
    by the head's loss (or the test metric)."""
    hook = cfg.get('default_hooks', {}).get('badcase', None)
    if cfg.get('default_scope') != 'mmpose' or hook is None:
        raise ValueError(
            '--badcase needs an mmpose config with mmpose\'s bad-case hook in default_hooks '
            "(default_hooks.badcase=dict(type='BadCaseAnalysisHook'), as mmpose's "
            f"default_runtime.py); this config has default_scope={cfg.get('default_scope')!r} "
            f'and default_hooks.badcase={hook!r}')
    hook['enable'] = True
    hook['show'] = args.show
    hook['interval'] = getattr(args, 'interval', 1)
    if args.show:
        hook['wait_time'] = args.wait_time
    metric_type = hook.get('metric_type', 'loss')
    if metric_type not in ('loss', 'accuracy'):
        raise ValueError("default_hooks.badcase.metric_type must be 'loss' or 'accuracy', got "
                         f'{metric_type!r}')
    if hook.get('metric'):
        return
    if metric_type == 'accuracy':
        hook['metric'] = cfg.test_evaluator
    elif isinstance(cfg.model.get('head'), dict) and 'loss' in cfg.model.head:
        hook['metric'] = cfg.model.head.loss
    else:
        raise ValueError(
            "--badcase with default_hooks.badcase.metric_type='loss' scores by model.head.loss, "
            f"which this model ({cfg.model.get('type')}) has not: set "
            'default_hooks.badcase.metric (a loss config) or metric_type=\'accuracy\'')


def _enable_tta(cfg: Config, scope: str) -> None:
    if scope == 'mmpose':  # mmpose's test-time augmentation is flip test in the model
        cfg.model.setdefault('test_cfg', ConfigDict())['flip_test'] = True
        return
    if scope == 'mmpretrain':  # as mmpretrain's: without them, the class scores of a flip
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            pipeline = deepcopy(cfg.test_dataloader.dataset.pipeline)
            pipeline[-1] = dict(type='TestTimeAug', transforms=[
                [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                [cfg.test_dataloader.dataset.pipeline[-1]]])
            cfg.tta_pipeline = pipeline
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise ValueError('--tta needs `tta_model` and `tta_pipeline` in the config')
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrapped datasets (RepeatDataset, ...)
        dataset = dataset.dataset
    dataset.pipeline = deepcopy(cfg.tta_pipeline)
    if cfg.model.get('predict_member') == 'all':  # each member's views merged (not the first's)
        cfg.model = ConfigDict(type='mcl_mm.MemberTTAModel', tta_model=cfg.tta_model,
                               module=cfg.model)
    else:
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)


def _add_result_dump(cfg: Config, out: str, scope: str, pickle_only: bool = False) -> None:
    evaluator = cfg.test_evaluator

    def iou_metric(metric) -> bool:
        return isinstance(metric, dict) and metric.get('type') in ('IoUMetric', 'mmseg.IoUMetric')

    if not pickle_only and isinstance(evaluator, dict) and evaluator.get('type') == \
            'mcl_mm.MemberMetric' and iou_metric(evaluator.get('metric')) and \
            not out.endswith(('.pkl', '.pickle')):
        evaluator = evaluator.metric  # a cohort's: each member's label maps in OUT/m{k}
    if not pickle_only and iou_metric(evaluator):
        # as mmseg: a folder of predicted label maps
        evaluator['output_dir'] = out
        evaluator['keep_results'] = True
        return
    # mmdet, mmpose (--dump), mmpretrain (as mmpretrain's tools/test.py: mmengine's DumpResults
    # of the predicted samples) and cohorts: raw results
    if not out.endswith(('.pkl', '.pickle')):
        flag = '--dump' if pickle_only else '--out'
        why = '' if pickle_only else ' (its test_evaluator is not an IoUMetric)'
        raise ValueError(f'{flag} for this config must be a .pkl file{why}, got {out!r}')
    dump = dict(type='mmdet.DumpDetResults' if scope == 'mmdet' else 'DumpResults',
                out_file_path=out)
    cfg.test_evaluator = [*evaluator, dump] if isinstance(evaluator, list) else [evaluator, dump]


def apply_test_args(cfg: Config, args) -> Config:
    """``checkpoint``, ``--out``, ``--out-item``, ``--dump``, ``--show``, ``--show-dir``,
    ``--interval``, ``--wait-time``, ``--tta``, ``--badcase``, ``--amp``, ``--no-pin-memory``.

    ``--out`` writes what the config's toolbox writes (``--out-item`` chooses otherwise): mmseg
    a folder of predicted label maps (a cohort's ``MemberMetric``: ``OUT/m{k}`` per member, or
    its predictions where OUT ends in ``.pkl``; a ``.pkl`` of predictions where the test
    evaluator is no ``IoUMetric``), mmdet and
    mmpretrain a ``.pkl`` of predictions, mmpose the metrics (any format ``mmengine.dump``
    writes, by the suffix); tools/test.py writes the metrics through
    :func:`save_test_metrics`. ``--dump`` (mmpose's) is a ``.pkl`` of predictions in every
    toolbox.
    """
    _common(cfg, args)
    scope = _scope(cfg)
    cfg.load_from = args.checkpoint
    # testing needs no training set: without this, mmseg's visualisation hook asks for
    # runner.iter, which builds the train loop and fails where the train data is absent
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    if getattr(args, 'out_item', None) and args.out is None:
        raise ValueError(f'--out-item {args.out_item} needs --out FILE: the file to write to')
    if args.show or args.show_dir:
        _enable_visualization(cfg, args, scope, testing=True)
    if getattr(args, 'badcase', False):
        _enable_badcase(cfg, args)
    if args.tta:
        _enable_tta(cfg, scope)
    if getattr(args, 'amp', False):  # as mmpretrain's: the test loop under autocast
        cfg.test_cfg = ConfigDict(cfg.get('test_cfg') or {}, fp16=True)
    _dataloader_settings(cfg, args, ('test', ), training=False)
    if args.out is not None and metrics_out_file(cfg, args) is None:
        _add_result_dump(cfg, args.out, scope)
    if getattr(args, 'dump', None) is not None:
        _add_result_dump(cfg, args.dump, scope, pickle_only=True)
    return cfg


def metrics_out_file(cfg: Config, args) -> Optional[str]:
    """Where tools/test.py writes the test metrics: ``--out`` for mmpose configs (as mmpose's
    tools/test.py) unless ``--out-item pred``, and with ``--out-item metrics`` for any."""
    item = getattr(args, 'out_item', None)
    if args.out is not None and (item == 'metrics' or (
            item is None and cfg.get('default_scope') == 'mmpose')):
        return args.out
    return None


def save_test_metrics(metrics: dict, cfg: Config, args) -> None:
    """Write ``runner.test()``'s metrics to :func:`metrics_out_file` (main process only)."""
    from mmengine.dist import is_main_process
    path = metrics_out_file(cfg, args)
    if path is not None and is_main_process():
        import mmengine
        mmengine.dump(metrics, path)
        print_log(f'test metrics written to {path}', logger='current')


def build_runner(cfg: Config, data_splits: Optional[Sequence[str]] = None):
    """``cfg.runner_type`` from the registry, else :class:`mcl_mm.engine.runner.Runner`
    (mmengine's Runner with a ``--resume`` that survives kills).

    Before building, the checkpoint ``--resume`` resumes from is found and checked (see
    :func:`~mcl_mm.engine.checkpoint.resolve_resume_checkpoint`), and the data roots,
    annotation files and image folders of ``data_splits`` (e.g. ``('train', 'val')``) must
    exist and not be empty; each is a clear error naming the file or the config key.
    """
    from mmengine.registry import RUNNERS

    from mcl_mm.datasets.checks import check_data_roots

    from .checkpoint import resolve_resume_checkpoint
    from .runner import Runner
    if cfg.get('resume'):
        cfg.load_from = resolve_resume_checkpoint(
            cfg.work_dir, cfg.get('load_from'),
            log=lambda msg: print_log(msg, logger='current', level=logging.WARNING))
    if data_splits:
        check_data_roots(cfg, splits=tuple(data_splits))
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)

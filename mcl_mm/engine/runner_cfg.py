"""Turn the command-line arguments of ``tools/train.py`` / ``tools/test.py`` into config edits.

The arguments are those of mmseg 1.2.2's tools, and for train.py those mmdet's, mmpose's and
mmpretrain's add (``--resume CHECKPOINT``, ``--auto-scale-lr``, ``--no-validate``). The task
toolbox comes from the config's ``default_scope`` (``mmseg``, ``mmdet``, ``mmpose`` or
``mmpretrain``), so the same tools serve all four; only the visualisation hook, ``--out`` and
``--tta`` differ between the toolboxes.
"""
import argparse
import logging
import os
import os.path as osp
from copy import deepcopy
from typing import Optional, Sequence

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
    return cfg


def apply_train_args(cfg: Config, args) -> Config:
    """``--work-dir``, ``--resume [CHECKPOINT]``, ``--amp``, ``--auto-scale-lr``,
    ``--no-validate``, ``--cfg-options``, ``--launcher``."""
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
    return cfg


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


def _enable_visualization(cfg: Config, args, scope: str) -> None:
    hook = cfg.get('default_hooks', {}).get('visualization', None)
    if hook is None:
        raise ValueError(
            '--show/--show-dir need a visualization hook in default_hooks '
            "(e.g. default_hooks.visualization=dict(type='SegVisualizationHook'))")
    hook['show'] = args.show
    hook['wait_time'] = args.wait_time
    hook['interval'] = 1  # paint every test image (mmseg's hook defaults to every 50th)
    if scope in ('mmpose', 'mmpretrain'):
        hook['enable'] = True
        hook['out_dir'] = args.show_dir
    else:
        hook['draw'] = True
        if args.show_dir and scope == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        elif args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir


def _enable_tta(cfg: Config, scope: str) -> None:
    if scope == 'mmpose':  # mmpose's test-time augmentation is flip test in the model
        cfg.model.setdefault('test_cfg', ConfigDict())['flip_test'] = True
        return
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise ValueError('--tta needs `tta_model` and `tta_pipeline` in the config')
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrapped datasets (RepeatDataset, ...)
        dataset = dataset.dataset
    dataset.pipeline = deepcopy(cfg.tta_pipeline)
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)


def _add_result_dump(cfg: Config, out: str, scope: str) -> None:
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, dict) and evaluator.get('type') in ('IoUMetric', 'mmseg.IoUMetric'):
        # as mmseg: a folder of predicted label maps
        evaluator['output_dir'] = out
        evaluator['keep_results'] = True
        return
    # mmdet, mmpose, mmpretrain (as mmpretrain's tools/test.py: mmengine's DumpResults of the
    # predicted samples) and cohorts: raw results
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out for this config must be a .pkl file (its test_evaluator is '
                         f'not an IoUMetric), got {out!r}')
    dump = dict(type='mmdet.DumpDetResults' if scope == 'mmdet' else 'DumpResults',
                out_file_path=out)
    cfg.test_evaluator = [*evaluator, dump] if isinstance(evaluator, list) else [evaluator, dump]


def apply_test_args(cfg: Config, args) -> Config:
    """``checkpoint``, ``--out``, ``--show``, ``--show-dir``, ``--wait-time``, ``--tta``."""
    _common(cfg, args)
    scope = _scope(cfg)
    cfg.load_from = args.checkpoint
    # testing needs no training set: without this, mmseg's visualisation hook asks for
    # runner.iter, which builds the train loop and fails where the train data is absent
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    if args.show or args.show_dir:
        _enable_visualization(cfg, args, scope)
    if args.tta:
        _enable_tta(cfg, scope)
    if args.out is not None:
        _add_result_dump(cfg, args.out, scope)
    return cfg


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

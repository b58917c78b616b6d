"""Train a model from an mmseg, mmdet, mmpose or mcl_mm config.

Same interface as mmseg 1.2.2's ``tools/train.py`` with the flags mmdet's, mmpose's and
mmpretrain's add (``--resume CHECKPOINT``, ``--auto-scale-lr``, ``--no-validate``, ``--show``,
``--show-dir``, ``--interval``, ``--wait-time``, ``--no-pin-memory``,
``--no-persistent-workers``); the task toolbox comes from the config's ``default_scope``, and
mmpretrain configs get the data loader defaults of mmpretrain's tools/train.py. On a machine
without CUDA, ``--launcher pytorch`` runs on gloo.
"""
import argparse

from mmengine.config import Config

import mcl_mm  # noqa: F401  registries, mmcv-ops check, checkpoint allow-list
from mcl_mm.engine import (add_visualization_args, apply_train_args, build_runner,
                           parse_tool_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=False, metavar='CHECKPOINT',
        help='resume from CHECKPOINT, or without it from load_from when the config sets it, '
        'else from the latest checkpoint in the work_dir')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', default=False,
        help="scale the learning rate by the total batch size (processes x batch per process) "
        "over the config's auto_scale_lr.base_batch_size")
    parser.add_argument(
        '--no-validate', action='store_true', default=False,
        help='do not validate during training (the val parts of the config are dropped)')
    parser.add_argument(
        '--tensorboard', action='store_true', default=False,
        help="also log to TensorBoard (the config's visualizer gets a TensorboardVisBackend; "
        'event files in WORK_DIR/<timestamp>/vis_data)')
    add_visualization_args(parser)  # mmpose's: paint the validation images
    parser.add_argument('--no-pin-memory', action='store_true',
                        help="disable the data loaders' pin_memory")
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help="disable the data loaders' persistent_workers")
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = apply_train_args(Config.fromfile(args.config), args)
    runner = build_runner(cfg, data_splits=('train', 'val'))
    runner.train()


if __name__ == '__main__':
    main()

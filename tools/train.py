"""Train a model from an mmseg, mmdet, mmpose or mcl_mm config.

Same interface as mmseg 1.2.2's ``tools/train.py``; the task toolbox comes from the
config's ``default_scope``. On a machine without CUDA, ``--launcher pytorch`` runs on gloo.
"""
import argparse
import os

from mmengine.config import Config, DictAction

import mcl_mm  # noqa: F401  registries, mmcv-ops check, checkpoint allow-list
from mcl_mm.engine import apply_train_args, build_runner


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', action='store_true', default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training')
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


def main():
    args = parse_args()
    cfg = apply_train_args(Config.fromfile(args.config), args)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()

"""Test (and evaluate) a checkpoint with an mmseg, mmdet, mmpose, mmpretrain or mcl_mm config.

Same interface as mmseg 1.2.2's ``tools/test.py``; the task toolbox comes from the
config's ``default_scope``. ``--out``: a folder of predicted label maps for mmseg configs
(as mmseg), a ``.pkl`` file of raw results for mmdet/mmpose/mmpretrain configs (as their
tools).
"""
import argparse

from mmengine.config import Config

import mcl_mm  # noqa: F401  registries, mmcv-ops check, checkpoint allow-list
from mcl_mm.engine import apply_test_args, build_runner, parse_tool_args


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='if specified, the evaluation metric results will be dumped into the directory '
        'as json')
    parser.add_argument(
        '--out', type=str,
        help='where to save the predictions for offline evaluation (mmseg: a directory; '
        'mmdet/mmpose/mmpretrain: a .pkl file)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, it will be '
        'automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='Test time augmentation')
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = apply_test_args(Config.fromfile(args.config), args)
    runner = build_runner(cfg, data_splits=('test', ))
    runner.test()


if __name__ == '__main__':
    main()

"""Test (and evaluate) a checkpoint with an mmseg, mmdet, mmpose, mmpretrain or mcl_mm config.

Same interface as mmseg 1.2.2's ``tools/test.py`` with the flags mmdet's, mmpose's and
mmpretrain's add (``--dump``, ``--badcase``, ``--out-item``, ``--amp``, ``--interval``,
``--no-pin-memory``); the task toolbox comes from the config's ``default_scope``. ``--out``
writes what that toolbox's tools/test.py writes: a folder of predicted label maps (mmseg), a
``.pkl`` file of predictions (mmdet, mmpretrain), the metrics (mmpose); ``--out-item
metrics|pred`` chooses, ``--dump FILE.pkl`` writes the predictions in any toolbox.
"""
import argparse

from mmengine.config import Config

import mcl_mm  # noqa: F401  registries, mmcv-ops check, checkpoint allow-list
from mcl_mm.engine import (add_visualization_args, apply_test_args, build_runner,
                           parse_tool_args, save_test_metrics)


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
        help="what the config's toolbox writes there: mmseg a directory of predicted label "
        'maps, mmdet/mmpretrain a .pkl file of predictions, mmpose the metrics (a .json, '
        '.yaml or .pkl file)')
    parser.add_argument(
        '--out-item', choices=['metrics', 'pred'],
        help='what --out writes instead: the metrics or the predictions')
    parser.add_argument(
        '--dump', type=str, help='also write the predictions to this .pkl file (as mmpose)')
    add_visualization_args(parser)
    parser.add_argument('--tta', action='store_true', help='Test time augmentation')
    parser.add_argument(
        '--badcase', action='store_true',
        help="mmpose: analyse bad cases (mmpose's BadCaseAnalysisHook, default_hooks.badcase)")
    parser.add_argument('--amp', action='store_true',
                        help='test under automatic mixed precision (test_cfg.fp16)')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help="disable the data loader's pin_memory")
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = apply_test_args(Config.fromfile(args.config), args)
    runner = build_runner(cfg, data_splits=('test', ))
    save_test_metrics(runner.test(), cfg, args)


if __name__ == '__main__':
    main()

"""List every bad file of a config's data sets before training on them.

    python tools/misc/check_dataset.py CONFIG [--split train val test] [--cfg-options k=v ...]
        [--max-samples N] [--max-decode N] [--record-dir DIR] [--num-classes K] [--workers W]
        [--file-workers W]

First the paths of each split's data set in the config (``data_root``, ``ann_file``,
``data_prefix`` folders, the evaluator's ``ann_file``): a missing or empty one is reported with
its config key. Then each data set is built as the Runner builds it (in the config's
``default_scope``, with its ``custom_imports``): every sample's files must be there (present,
regular, readable, not empty) and its listed label in range, and every sample is decoded as
the pipeline reads it: unreadable images and label maps, label maps of the wrong size or with
values outside the classes (other than the ignore index) (see ``mcl_mm/datasets/checks.py``).
Prints every problem and a summary; exit status 1 if there is any problem, 0 otherwise.

This is the full decode that ``mcl_mm.DatasetCheckHook`` leaves out by default (it decodes
``--max-decode 200`` evenly spread samples). With ``--record-dir WORK_DIR/dataset_checks`` the
outcome is recorded where the hook of a run in ``WORK_DIR`` looks: that run then skips its own
decode while the data set stays the same (a record of a full decode covers any sample).
"""
import argparse
import sys
import time

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

import mcl_mm  # noqa: F401  registries
from mcl_mm.datasets.checks import (
    SPLITS,
    DatasetScan,
    active_splits,
    cfg_num_classes,
    find_data_root_problems,
)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Scan the data sets of a config and report every bad file '
        '(exit status 1 if any).')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', nargs='+', choices=SPLITS, default=list(SPLITS),
                        help='which data sets to check (default: all the config has)')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='check at most N samples of each data set, evenly spread '
                        '(default: all)')
    parser.add_argument('--max-decode', type=int, default=None,
                        help='decode at most N samples of each data set, evenly spread, as '
                        'DatasetCheckHook does (default: all); the files of every checked '
                        'sample are still checked to be present, readable and not empty')
    parser.add_argument('--record-dir', default=None,
                        help='read and write the record of the decode in this folder (e.g. '
                        "WORK_DIR/dataset_checks, where DatasetCheckHook looks): an unchanged "
                        'data set is not decoded again')
    parser.add_argument('--num-classes', type=int, default=None,
                        help="labels must be below K (default: the data set's classes, or "
                        "the model's heads' num_classes where fewer)")
    parser.add_argument('--workers', type=int, default=4,
                        help='threads that decode files (default: 4)')
    parser.add_argument('--file-workers', type=int, default=1,
                        help='threads of the file check (stat; default: 1, fastest on a local '
                        'disk; more on a network file system)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, xxx=yyy, as in tools/train.py')
    return parser.parse_args()


def build_dataset(cfg, split):
    from mmengine.registry import DATASETS
    dataset = DATASETS.build(cfg.get(f'{split}_dataloader').dataset)
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    if cfg.get('default_scope'):
        init_default_scope(cfg.default_scope)
    splits = active_splits(cfg, args.split, require_loops=False)
    if not splits:
        print(f'no data set for split(s) {args.split} in {args.config}')
        return 1
    num_classes = args.num_classes
    if num_classes is None and cfg.get('model') is not None:
        num_classes = cfg_num_classes(cfg.model)

    total, seen = 0, {}
    root_problems = find_data_root_problems(cfg, splits, require_loops=False)
    for msg in root_problems:
        print(f'ERROR {msg}')
    total += len(root_problems)
    bad_keys = {msg.split(':', 1)[0].split('.dataset')[0] for msg in root_problems}
    for split in splits:
        key = f'{split}_dataloader.dataset'
        dataset_cfg = cfg.get(f'{split}_dataloader').dataset
        if f'{split}_dataloader' in bad_keys:
            print(f'{split}: not scanned (bad paths above)')
            continue
        same = next((s for s, c in seen.items() if c == dataset_cfg), None)
        if same is not None:
            print(f'{split}: the same data set as {same}, not scanned again')
            continue
        seen[split] = dataset_cfg
        start = time.perf_counter()
        try:
            dataset = build_dataset(cfg, split)
        except Exception as e:  # noqa: BLE001 - report it with the config key
            print(f'ERROR {key}: building {dataset_cfg.get("type")} failed: '
                  f'{type(e).__name__}: {e}')
            total += 1
            continue
        result = DatasetScan(dataset, num_classes, args.max_samples, args.max_decode,
                             args.workers, file_workers=args.file_workers).run(args.record_dir)
        problems = result.problems
        for p in problems:
            print(f'ERROR {split}: {p}')
        total += len(problems)
        scanned = (len(dataset) if args.max_samples is None else
                   f'up to {args.max_samples} of {len(dataset)}')
        print(f'{split}: {type(dataset).__name__}, {scanned} samples checked in '
              f'{time.perf_counter() - start:.1f} s: {len(problems)} problem(s) '
              f'({result.details()})')
    bound = f'labels checked against {num_classes} classes' if num_classes else ''
    print(f'{"FAILED" if total else "OK"}: {total} problem(s) in {", ".join(splits)} of '
          f'{args.config}{f" ({bound})" if bound else ""}')
    return 1 if total else 0


if __name__ == '__main__':
    sys.exit(main())

"""Resident memory of a training run over many iterations: does it stay flat after warm-up?

    python tools/benchmark_memory.py CONFIG [--iters 500] [--warmup 50] [--every 25]
        [--data-root PATH] [--format FMT] [--threshold MIB] [--no-tensor-count]
        [--cfg-options k=v ...]

The Runner is built as ``tools/train.py`` builds it (``mcl_mm.engine`` helpers, so
``--cfg-options`` work the same), in a temporary work_dir, with these changes for the
measurement (printed at start):

* an iteration-based loop of ``--iters`` iterations and no validation/test loops (an
  epoch-based config is converted; its ``by_epoch=True`` schedulers are dropped, so the LR
  stays where the iteration-based ones leave it: constant for a config that has none);
* checkpoints off (no interval hit, no last/best checkpoint), logging every ``--iters``
  iterations, ``num_workers=0`` (everything in this process, so its RSS is the whole run),
  and a ``DefaultSampler`` becomes an ``InfiniteSampler`` (mmengine's iteration-based loop
  pauses 2 s whenever a finite sampler runs out, which would dominate the wall time);
* a distiller whose ``teacher_ckpt`` file is missing gets a random teacher (memory does not
  depend on the weights);
* with no ``--data-root``, the synthetic set of the config's dataset type (or ``--format``) is
  made in a temporary folder with ``mcl_mm.testing.synthetic_data.FORMATS`` (mmpretrain's
  ``CIFAR100`` is then read by ``mcl_mm.SyntheticCIFAR100``: the synthetic pickles fail the
  release's md5 sums).

A hook samples, every ``--every`` iterations (and at 0, at the end of warm-up and at the end),
the process's resident set size (``VmRSS`` of ``/proc/self/status``; peak: ``VmHWM``) and,
after a ``gc.collect()``, the number of live torch tensors and of Python objects tracked by
the garbage collector. It prints a table, then a summary: RSS at the end of warm-up and at the
end, the growth in MiB and MiB per 100 iterations, the least-squares slope after warm-up, the
same for the tensor count, and a ``FLAT`` / ``GROWING`` verdict (see ``verdict``). The exit
status is 0 whatever the verdict: this is a benchmark.
"""
import argparse
import ctypes
import gc
import os
import os.path as osp
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.hooks import Hook

# FLAT when the RSS slope after warm-up is below this (MiB per 100 iterations): 10 KiB per
# iteration. A leaked activation of these toy runs is larger than that (one 16x512 float
# embedding is 32 KiB, a 4x64x16x32 feature map 512 KiB), while allocator noise at toy size
# stays well below it; see ``verdict`` for the tensor-count criterion.
RSS_THRESHOLD = 1.0
# ... and when the live tensor count grows by less than this many tensors per 100 iterations
# (one leaked tensor per iteration gives 100).
TENSOR_THRESHOLD = 1.0

# dataset type (registry name without scope) -> synthetic format
DATASET_FORMATS = {
    'CityscapesDataset': 'cityscapes',
    'PascalVOCDataset': 'voc',
    'CamVidDataset': 'camvid',
    'ImageNet': 'imagenet',
    'CIFAR100': 'cifar100',
    'SyntheticCIFAR100': 'cifar100',
    'CocoPersonJigsawDataset': 'coco_pose',
}
# stock dataset type -> the type that reads its synthetic set: the synthetic CIFAR-100 pickles
# fail the release's md5 sums that mmpretrain's CIFAR100 checks
SYNTHETIC_TYPES = {'CIFAR100': 'mcl_mm.SyntheticCIFAR100'}


# --- sampling ------------------------------------------------------------------------------
def read_rss_mib() -> Dict[str, float]:
    """Current (``VmRSS``) and peak (``VmHWM``) resident set size of this process, MiB."""
    out = {}
    with open('/proc/self/status') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                out[key] = int(value.split()[0]) / 1024  # kB
    return dict(rss=out['VmRSS'], peak=out['VmHWM'])


def _malloc_trim():
    """glibc's ``malloc_trim`` (returns free heap pages to the system), or None."""
    try:
        return ctypes.CDLL('libc.so.6').malloc_trim
    except (OSError, AttributeError):
        return None


def batch_tensor_ids(obj, found=None) -> set:
    """ids of the tensors held by a data batch (dicts, sequences, mmengine data elements)."""
    import torch
    from mmengine.structures import BaseDataElement
    found = set() if found is None else found
    if isinstance(obj, torch.Tensor):
        found.add(id(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            batch_tensor_ids(v, found)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            batch_tensor_ids(v, found)
    elif isinstance(obj, BaseDataElement):
        for v in obj.all_values():
            batch_tensor_ids(v, found)
    return found


def count_objects(exclude=None) -> Dict[str, int]:
    """Live torch tensors (but those whose ids are in ``exclude``: the current data batch,
    whose size varies) and gc-tracked Python objects, after a full collection."""
    import torch
    exclude = exclude or set()
    gc.collect()
    objects = gc.get_objects()
    with warnings.catch_warnings():  # isinstance on deprecated module attributes warns
        warnings.simplefilter('ignore')
        tensors = sum(1 for o in objects if isinstance(o, torch.Tensor) and id(o) not in exclude)
    count = dict(tensors=tensors, objects=len(objects))
    del objects
    return count


class MemorySampler(Hook):
    """Samples the process's memory every ``every`` iterations (and at ``extra`` ones).

    A sample reads ``VmRSS``/``VmHWM`` as they are (``rss``, ``peak``), then collects garbage,
    counts live tensors and objects (``count_tensors``), and with ``trim`` calls glibc's
    ``malloc_trim(0)`` and reads ``VmRSS`` again (``trimmed``): the memory the process holds
    once the allocator's free pages are handed back, which does not swing with where the
    allocator happens to stand in its cycle.
    """
    priority = 'LOWEST'

    def __init__(self, every: int, extra: Sequence[int] = (), count_tensors: bool = True,
                 trim: bool = True):
        self.every = every
        self.extra = set(extra)
        self.count_tensors = count_tensors
        self.trim = _malloc_trim() if trim else None
        self.samples: List[dict] = []
        self.sampling_time = 0.0

    def sample(self, iteration: int, data_batch=None) -> dict:
        t0 = time.perf_counter()
        s = dict(iter=iteration, **read_rss_mib())
        if self.count_tensors:
            s.update(count_objects(batch_tensor_ids(data_batch)))
        if self.trim is not None:
            gc.collect()
            self.trim(0)
            s['trimmed'] = read_rss_mib()['rss']
        s['time'] = time.perf_counter()
        self.samples.append(s)
        self.sampling_time += s['time'] - t0
        return s

    def before_train(self, runner) -> None:
        print(format_row(self.sample(runner.iter)), flush=True)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        it = runner.iter + 1  # iterations done
        if it % self.every == 0 or it in self.extra or it == runner.max_iters:
            s = self.sample(it, data_batch)
            print(format_row(s), flush=True)


def format_header(count_tensors: bool = True, trimmed: bool = True) -> str:
    head = f'{"iter":>6} {"RSS MiB":>9} {"peak MiB":>9}'
    head += f' {"trimmed":>9}' if trimmed else ''
    return head + (f' {"tensors":>8} {"objects":>9}' if count_tensors else '')


def format_row(s: dict) -> str:
    row = f'{s["iter"]:>6} {s["rss"]:>9.1f} {s["peak"]:>9.1f}'
    if 'trimmed' in s:
        row += f' {s["trimmed"]:>9.1f}'
    if 'tensors' in s:
        row += f' {s["tensors"]:>8} {s["objects"]:>9}'
    return row


# --- summary -------------------------------------------------------------------------------
def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0 for fewer than two distinct x)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def summarize(samples: Sequence[dict], warmup: int) -> dict:
    """Memory at start, at the end of warm-up and at the end, growth and slope after warm-up.

    The warm-up sample is the first at or after iteration ``warmup`` (the first sample if the
    run is shorter); growths and slopes are over the samples from it to the end, per 100
    iterations. For each series (``rss``, ``trimmed`` when sampled): ``{key}_start``,
    ``{key}_warmup``, ``{key}_end``, ``{key}_growth``, ``{key}_per_100``, ``{key}_slope``;
    then the peak and, when counted, the tensor and object counts. ``basis`` names the series
    the verdict reads: ``trimmed`` when sampled, else ``rss``.
    """
    if not samples:
        raise ValueError('no samples')
    start = next((i for i, s in enumerate(samples) if s['iter'] >= warmup), 0)
    after = samples[start:]
    first, last = after[0], after[-1]
    span = last['iter'] - first['iter']
    xs = [s['iter'] for s in after]
    out = dict(warmup_iter=first['iter'], end_iter=last['iter'], samples=len(after),
               peak_warmup=first['peak'], peak_end=last['peak'],
               basis='trimmed' if 'trimmed' in first else 'rss')
    keys = ['rss', 'trimmed'] if 'trimmed' in first else ['rss']
    if 'tensors' in first:
        keys += ['tensors', 'objects']
    for key in keys:
        growth = last[key] - first[key]
        out.update({
            f'{key}_start': samples[0][key], f'{key}_warmup': first[key],
            f'{key}_end': last[key], f'{key}_growth': growth,
            f'{key}_per_100': growth / span * 100 if span else 0.0,
            f'{key}_slope': slope(xs, [s[key] for s in after]) * 100})
    return out


def verdict(summary: dict, rss_threshold: float = RSS_THRESHOLD,
            tensor_threshold: float = TENSOR_THRESHOLD) -> str:
    """``FLAT`` unless the least-squares slope after warm-up of the ``basis`` series is
    ``rss_threshold`` MiB/100 it or more, or the live tensor count grows by
    ``tensor_threshold`` tensors/100 it or more."""
    reasons = []
    rss_slope = summary[f'{summary["basis"]}_slope']
    if rss_slope >= rss_threshold:
        reasons.append(f'{rss_slope:.2f} MiB/100 it')
    if summary.get('tensors_slope', 0.0) >= tensor_threshold:
        reasons.append(f'{summary["tensors_slope"]:.1f} tensors/100 it')
    return f'GROWING ({", ".join(reasons)})' if reasons else 'FLAT'


def format_summary(summary: dict, rss_threshold: float = RSS_THRESHOLD,
                   tensor_threshold: float = TENSOR_THRESHOLD) -> str:
    s = summary
    keys = ['rss', 'trimmed'] if 'trimmed_slope' in s else ['rss']

    def row(label, fmt, field):
        return f'{label:28s}' + ''.join(format(s[f'{k}_{field}'], fmt) for k in keys)

    lines = [
        f'{"MiB":28s}' + ''.join(f'{h:>10s}' for h in ('RSS', 'trimmed')[:len(keys)]),
        row('start (iter 0)', '10.1f', 'start'),
        row(f'end of warm-up (iter {s["warmup_iter"]})', '10.1f', 'warmup'),
        row(f'end (iter {s["end_iter"]})', '10.1f', 'end'),
        row('growth after warm-up', '+10.2f', 'growth'),
        row('  per 100 iterations', '+10.2f', 'per_100'),
        row('least-squares slope /100 it', '+10.2f', 'slope')
        + f'  ({s["samples"]} samples)',
        f'peak RSS (VmHWM)            {s["peak_warmup"]:.1f} at warm-up -> {s["peak_end"]:.1f} '
        f'at end ({s["peak_end"] - s["peak_warmup"]:+.1f})',
    ]
    if 'tensors_slope' in s:
        lines += [
            f'live tensors                {s["tensors_warmup"]} -> {s["tensors_end"]} '
            f'(slope {s["tensors_slope"]:+.2f}/100 it)',
            f'gc-tracked objects          {s["objects_warmup"]} -> {s["objects_end"]} '
            f'(slope {s["objects_slope"]:+.1f}/100 it)',
        ]
    basis = 'trimmed RSS' if s['basis'] == 'trimmed' else 'RSS'
    lines.append(
        f'verdict: {verdict(s, rss_threshold, tensor_threshold)}  (FLAT: {basis} slope < '
        f'{rss_threshold:g} MiB/100 it, i.e. ~{rss_threshold * 1024 / 100:.0f} KiB/iteration'
        + (f', and live-tensor slope < {tensor_threshold:g}/100 it)' if 'tensors_slope' in s
           else ')'))
    return '\n'.join(lines)


# --- config --------------------------------------------------------------------------------
def _datasets(dataset_cfg) -> list:
    """The leaf dataset configs of a (possibly wrapped or concatenated) dataset config."""
    if dataset_cfg is None:
        return []
    if 'datasets' in dataset_cfg:
        return [d for sub in dataset_cfg['datasets'] for d in _datasets(sub)]
    if 'dataset' in dataset_cfg:
        return _datasets(dataset_cfg['dataset'])
    return [dataset_cfg]


def guess_format(cfg: Config) -> str:
    """The synthetic format matching the config's training dataset type."""
    leaves = _datasets(cfg.train_dataloader.dataset)
    name = str(leaves[0].get('type', '')).split('.')[-1]
    if name in DATASET_FORMATS:
        return DATASET_FORMATS[name]
    if name == 'CocoDataset':
        return 'coco_pose' if cfg.get('default_scope') == 'mmpose' else 'coco_det'
    raise ValueError(f'no synthetic format known for dataset type {name!r}: give --format or '
                     '--data-root')


def prepare_config(cfg: Config, iters: int, notes: List[str]) -> Config:
    """The benchmark's edits (module docstring); what they change is appended to ``notes``."""
    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('type', '') not in ('IterBasedTrainLoop', ) or 'max_epochs' in train_cfg:
        notes.append(f'train loop: {train_cfg.get("type", "EpochBasedTrainLoop")} -> '
                     f'IterBasedTrainLoop({iters} iterations)')
    cfg.train_cfg = ConfigDict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    notes.append('validation and test loops off')

    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    kept = [s for s in schedulers if not s.get('by_epoch', True)]
    dropped = [s.get('type') for s in schedulers if s.get('by_epoch', True)]
    if dropped:
        notes.append(f'by_epoch schedulers dropped ({", ".join(map(str, dropped))}): LR constant '
                     'after the iteration-based ones' if kept else
                     f'by_epoch schedulers dropped ({", ".join(map(str, dropped))}): constant LR')
    cfg.param_scheduler = kept or None
    cfg.log_processor = ConfigDict(cfg.get('log_processor') or {}, by_epoch=False)

    hooks = cfg.get('default_hooks') or ConfigDict()
    hooks['checkpoint'] = ConfigDict(type='CheckpointHook', interval=iters + 1, by_epoch=False,
                                     save_last=False, save_best=None)
    logger = ConfigDict(hooks.get('logger') or dict(type='LoggerHook'))
    logger['interval'] = iters
    hooks['logger'] = logger
    cfg.default_hooks = hooks
    notes.append(f'checkpoints off, logging every {iters} iterations')

    loader = cfg.train_dataloader
    sampler = loader.get('sampler') or {}
    if str(sampler.get('type', '')).split('.')[-1] == 'DefaultSampler':
        # mmengine's iteration-based loop sleeps 2 s each time a finite sampler runs out
        loader['sampler'] = ConfigDict(type='InfiniteSampler',
                                       shuffle=sampler.get('shuffle', True),
                                       seed=sampler.get('seed', None))
        notes.append('DefaultSampler -> InfiniteSampler (no 2 s restart pause per epoch)')
    loader['num_workers'] = 0
    loader['persistent_workers'] = False
    notes.append(f'train batch {loader.get("batch_size")}, num_workers=0')
    return cfg


def check_teacher(cfg: Config, notes: List[str]) -> Config:
    """A distiller whose ``teacher_ckpt`` is not a file gets a random teacher (after
    ``--cfg-options``, which may set either)."""
    model = cfg.model
    if 'teacher_ckpt' not in model:
        return cfg
    ckpt = model.get('teacher_ckpt')
    if ckpt is not None and osp.isfile(ckpt):
        notes.append(f'teacher checkpoint {ckpt!r} loaded')
    elif ckpt is None and model.get('random_teacher', False):
        notes.append('random teacher')
    else:
        model['teacher_ckpt'] = None
        model['random_teacher'] = True
        notes.append(f'teacher checkpoint {ckpt!r} not found: random teacher')
    return cfg


def set_data_root(cfg: Config, data_root: str, synthetic: bool = False,
                  notes: Optional[List[str]] = None) -> None:
    """Point the training sets at ``data_root``; for a synthetic set, a stock type that does
    not read it (``SYNTHETIC_TYPES``) is replaced by the one that does (noted in ``notes``)."""
    for d in _datasets(cfg.train_dataloader.dataset):
        d['data_root'] = data_root
        name = str(d.get('type', '')).split('.')[-1]
        if synthetic and name in SYNTHETIC_TYPES:
            d['type'] = SYNTHETIC_TYPES[name]
            if notes is not None:
                notes.append(f'dataset type {name} -> {d["type"]} (reads the synthetic set)')


def message_hub_history(runner) -> str:
    """What mmengine's message hub keeps: one ``HistoryBuffer`` per logged scalar, each growing
    by one value and one count per update up to ``max_length`` (10**6 by default)."""
    buffers = runner.message_hub.log_scalars.values()
    entries = sum(len(b._log_history) for b in buffers)
    nbytes = sum(b._log_history.nbytes + b._count_history.nbytes for b in buffers)
    return (f'{len(buffers)} scalar histories, {entries} entries, {nbytes / 1024:.1f} KiB '
            f'(~{nbytes / max(runner.iter, 1) / 1024 * 100:.1f} KiB/100 it, bounded at '
            f'{next(iter(buffers)).max_length if buffers else 0} entries per history)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=500)
    parser.add_argument('--warmup', type=int, default=50,
                        help='iterations before the growth is measured')
    parser.add_argument('--every', type=int, default=25, help='sample every N iterations')
    parser.add_argument('--data-root', help='data set to train on (default: a synthetic one '
                        'made in a temporary folder)')
    parser.add_argument('--format', help='synthetic format (default: from the dataset type)')
    parser.add_argument('--threshold', type=float, default=RSS_THRESHOLD,
                        help='RSS slope (MiB/100 it) at or above which the run is GROWING')
    parser.add_argument('--no-tensor-count', action='store_true',
                        help='do not count live tensors (gc.get_objects) at each sample')
    parser.add_argument('--no-trim', action='store_true',
                        help='do not call malloc_trim(0) at each sample (no trimmed column; '
                        'the verdict then reads the raw RSS)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, as tools/train.py')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    import mcl_mm  # noqa: F401  registries, checkpoint allow-list
    from mcl_mm.engine import apply_train_args, build_runner

    notes: List[str] = []
    tmp = tempfile.TemporaryDirectory(prefix='benchmark_memory_')
    cfg = prepare_config(Config.fromfile(args.config), args.iters, notes)
    if args.data_root is None:
        from mcl_mm.testing.synthetic_data import FORMATS
        fmt = args.format or guess_format(cfg)
        data_root = osp.join(tmp.name, fmt)
        FORMATS[fmt](data_root)
        notes.append(f'synthetic {fmt} set made in {data_root}')
    else:
        data_root = args.data_root
    set_data_root(cfg, data_root, synthetic=args.data_root is None, notes=notes)
    train_args = argparse.Namespace(
        config=args.config, work_dir=osp.join(tmp.name, 'work_dir'), resume=False, amp=False,
        cfg_options=args.cfg_options, launcher='none')
    cfg = apply_train_args(cfg, train_args)  # as tools/train.py; --cfg-options last
    check_teacher(cfg, notes)

    runner = build_runner(cfg)
    sampler = MemorySampler(args.every, extra=(args.warmup, ),
                            count_tensors=not args.no_tensor_count, trim=not args.no_trim)
    runner.register_hook(sampler)

    print(f'{args.config}: {args.iters} iterations, warm-up {args.warmup}, sample every '
          f'{args.every}, {torch.get_num_threads()} threads')
    for note in notes:
        print(f'  - {note}')
    print(format_header(sampler.count_tensors, sampler.trim is not None), flush=True)
    t0 = time.perf_counter()
    runner.train()
    wall = time.perf_counter() - t0

    print(f'\nresident memory ({args.config})')
    print(format_header(sampler.count_tensors, sampler.trim is not None))
    for s in sampler.samples:
        print(format_row(s))
    summary = summarize(sampler.samples, args.warmup)
    print()
    print(format_summary(summary, args.threshold))
    print(f'wall time                   {wall:9.1f} s  ({sampler.sampling_time:.1f} s of it '
          f'sampling; {(wall - sampler.sampling_time) / args.iters * 1000:.0f} ms/iteration)')
    print(f'message hub history         {message_hub_history(runner)}')
    sys.stdout.flush()
    tmp.cleanup()
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(main())

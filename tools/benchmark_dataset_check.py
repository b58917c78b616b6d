"""Start-up cost of the data set check at data-set scale: time to iteration 1, first start and
``--resume``.

    python tools/benchmark_dataset_check.py [--entries 100000] [--val-entries N]
        [--city-entries 2975] [--city-val-entries 500] [--sets imagenet cityscapes]
        [--max-decode N|all] [--work-dir DIR]

For each set, in ``--work-dir`` (default: a temporary folder, removed at the end):

* an index in the real on-disk layout whose files are symbolic links to a few images made by
  mcl_mm's synthetic generator (``mcl_mm.testing.synthetic_data``) at the real sizes:

  - ``imagenet``: ``train/<wnid>/<wnid>_<n>.JPEG`` over 1000 class folders and
    ``meta/train.txt`` with ``--entries`` lines (``val/`` and ``meta/val.txt``:
    ``--val-entries``, default entries / 25, ImageNet's ratio), links to 8 JPEGs of 500x375,
    read by mmpretrain's ``ImageNet``;
  - ``cityscapes``: ``leftImg8bit/{train,val}/<city>/<city>_<seq>_000019_leftImg8bit.png`` and
    ``gtFine/.../*_gtFine_labelTrainIds.png`` in the real cities, ``--city-entries`` (default
    2975, the real train set) and ``--city-val-entries`` (500), links to 4 image/label pairs
    of 2048x1024 (about 2.9 MB per PNG, as the real ones), read by mmseg's
    ``CityscapesDataset``;

* a tiny config (a ResNet-18 of 8 base channels; batch 2; ``num_workers=0``; an
  iteration-based loop; a checkpoint every iteration) whose runtime is the shipped one:
  ``configs/_base_/mcl_mm_runtime.py``, so ``mcl_mm.Runner`` appends ``mcl_mm_hooks`` with
  ``mcl_mm.DatasetCheckHook`` at its defaults (train and val sets);

* two trainings in fresh processes, as ``tools/train.py`` builds them (``build_runner`` with
  the data-root checks): a first start of 1 iteration, then ``--resume`` to 2 iterations.

Printed per start: the seconds from building the runner (after Python's imports) to the end of
the first iteration of that start, split into building (runner, data sets, model; on resume
the checkpoint), ``DatasetCheckHook`` and the rest (on resume mmengine's data-iterator advance,
then the iteration); the whole process's wall time; and the hook's own account of each set
(files checked, samples decoded or remembered). The goal for the hook at 100 000 entries on
two cores: at most 60 s on the first start and 5 s on resume. The
files are links to a few images, so they are in the page cache: a cold disk or a network file
system adds its latency to each ``stat`` (the hook's ``file_workers`` threads overlap those). The
exit status is 0 unless a training fails: this is a benchmark.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RUNTIME = osp.join(REPO, 'configs', '_base_', 'mcl_mm_runtime.py')
CITIES = dict(
    train=('aachen', 'bochum', 'bremen', 'cologne', 'darmstadt', 'dusseldorf', 'erfurt',
           'hamburg', 'hanover', 'jena', 'krefeld', 'monchengladbach', 'strasbourg',
           'stuttgart', 'tubingen', 'ulm', 'weimar', 'zurich'),
    val=('frankfurt', 'lindau', 'munster'))


# --- data ----------------------------------------------------------------------------------
def _files(folder, suffix):
    return sorted(osp.join(d, f) for d, _, fs in os.walk(folder) for f in fs
                  if f.endswith(suffix))


def make_imagenet_index(root: str, entries: int, val_entries: int, classes: int = 1000) -> str:
    """ImageNet layout with ``entries`` training and ``val_entries`` validation samples, each a
    symbolic link to one of 8 synthetic 500x375 JPEGs."""
    from mcl_mm.testing.synthetic_data import make_imagenet
    src = osp.join(root, 'source')
    make_imagenet(src, num_train=8, num_val=0, size=(375, 500))
    images = _files(osp.join(src, 'train'), '.JPEG')
    data = osp.join(root, 'imagenet')
    for split, num in (('train', entries), ('val', val_entries)):
        lines = []
        for c in range(classes):
            os.makedirs(osp.join(data, split, f'n{c:08d}'), exist_ok=True)
        for i in range(num):
            label = i % classes
            wnid = f'n{label:08d}'
            name = (f'{wnid}_{i // classes + 1}.JPEG' if split == 'train' else
                    f'ILSVRC2012_val_{i + 1:08d}.JPEG')
            os.symlink(images[i % len(images)], osp.join(data, split, wnid, name))
            lines.append(f'{wnid}/{name} {label}\n')
        os.makedirs(osp.join(data, 'meta'), exist_ok=True)
        with open(osp.join(data, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
    return data


def make_cityscapes_index(root: str, entries: int, val_entries: int) -> str:
    """Cityscapes layout with ``entries`` training and ``val_entries`` validation pairs, each a
    pair of links to one of 4 synthetic 2048x1024 image/label pairs (made at 512x256 and
    enlarged: drawing at full size takes a minute per image)."""
    import cv2

    from mcl_mm.testing.synthetic_data import make_cityscapes, write_png
    small = osp.join(root, 'source_small')
    make_cityscapes(small, num_train=4, num_val=0, size=(256, 512))
    src = osp.join(root, 'source')
    pairs = []
    for img_path in _files(osp.join(small, 'leftImg8bit'), '_leftImg8bit.png'):
        label_path = img_path.replace(f'{os.sep}leftImg8bit{os.sep}', f'{os.sep}gtFine{os.sep}') \
            .replace('_leftImg8bit.png', '_gtFine_labelTrainIds.png')
        img = cv2.resize(cv2.imread(img_path), (2048, 1024), interpolation=cv2.INTER_CUBIC)
        label = cv2.resize(cv2.imread(label_path, cv2.IMREAD_UNCHANGED), (2048, 1024),
                           interpolation=cv2.INTER_NEAREST)
        pair = (img_path.replace(small, src), label_path.replace(small, src))
        write_png(pair[0], img)
        write_png(pair[1], label)
        pairs.append(pair)
    data = osp.join(root, 'cityscapes')
    for split, num in (('train', entries), ('val', val_entries)):
        cities = CITIES[split]
        for i in range(num):
            city = cities[i % len(cities)]
            stem = f'{city}_{i // len(cities):06d}_000019'
            img, label = pairs[i % len(pairs)]
            for link, target in (
                    (osp.join(data, 'leftImg8bit', split, city, f'{stem}_leftImg8bit.png'), img),
                    (osp.join(data, 'gtFine', split, city, f'{stem}_gtFine_labelTrainIds.png'),
                     label)):
                if i < len(cities):
                    os.makedirs(osp.dirname(link), exist_ok=True)
                os.symlink(target, link)
    return data


# --- configs -------------------------------------------------------------------------------
IMAGENET_CONFIG = '''_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py', 'mmpretrain::_base_/default_runtime.py',
    {runtime!r}]
data_root = {data_root!r}
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=64, edge='short'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
'''

CITYSCAPES_CONFIG = '''_base_ = [
    'mmseg::_base_/datasets/cityscapes.py', 'mmseg::_base_/default_runtime.py', {runtime!r}]
data_root = {data_root!r}
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (128, 128)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=crop_size),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3, ), norm_cfg=norm_cfg),
    decode_head=dict(type='FCNHead', in_channels=64, in_index=0, channels=16, num_convs=1,
                     concat_input=False, num_classes=19, norm_cfg=norm_cfg,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
'''

COMMON = '''
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
param_scheduler = None
# the val set is built (and checked) but not run: val_begin after the last iteration
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_begin=10**9, val_interval=10**9)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False, max_keep_ckpts=1))
randomness = dict(seed=0)
'''


def write_config(path: str, fmt: str, data_root: str, max_decode) -> str:
    if fmt == 'imagenet':
        text = IMAGENET_CONFIG.format(runtime=RUNTIME, data_root=data_root)
    else:
        text = CITYSCAPES_CONFIG.format(runtime=RUNTIME, data_root=data_root)
    text += COMMON
    if max_decode != 'default':
        # the config's own hook entry: mcl_mm.Runner then does not add the default one
        text += f"custom_hooks = [dict(type='mcl_mm.DatasetCheckHook', max_decode={max_decode})]\n"
    with open(path, 'w') as f:
        f.write(text)
    return path


# --- one start, in its own process -----------------------------------------------------------
def child(config: str, work_dir: str, resume: bool, max_iters: int) -> dict:
    """Train as tools/train.py does; return the timings (seconds)."""
    t_imports = time.perf_counter()
    from mmengine.config import Config
    from mmengine.hooks import Hook

    import mcl_mm  # noqa: F401
    from mcl_mm.datasets import checks
    from mcl_mm.engine import apply_train_args, build_runner
    from mcl_mm.engine.hooks import DatasetCheckHook

    hook_seconds, hook_starts, scans = [], [], []
    before_train = DatasetCheckHook.before_train
    run = checks.DatasetScan.run

    def timed_before_train(self, runner):
        hook_starts.append(time.perf_counter())
        try:
            before_train(self, runner)
        finally:
            hook_seconds.append(time.perf_counter() - hook_starts[-1])

    def recorded_run(self, record_dir=None):
        result = run(self, record_dir)
        scans.append(dict(details=result.summary(), samples=result.samples, files=result.files,
                          decoded=result.decoded, remembered=result.remembered,
                          file_seconds=result.file_seconds,
                          decode_seconds=result.decode_seconds))
        return result

    DatasetCheckHook.before_train = timed_before_train
    checks.DatasetScan.run = recorded_run

    class FirstIteration(Hook):
        priority = 'LOWEST'
        done = None

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if self.done is None:
                self.done = time.perf_counter()

    start = time.perf_counter()
    cfg = Config.fromfile(config)
    args = argparse.Namespace(config=config, work_dir=work_dir, resume=resume, amp=False,
                              cfg_options={'train_cfg.max_iters': max_iters}, launcher='none')
    cfg = apply_train_args(cfg, args)
    runner = build_runner(cfg, data_splits=('train', 'val'))
    first = FirstIteration()
    runner.register_hook(first)
    hooks = [type(h).__name__ for h in runner.hooks]
    if 'DatasetCheckHook' not in hooks:
        raise RuntimeError(f'no DatasetCheckHook among the runner hooks {hooks}')
    runner.train()
    return dict(imports=start - t_imports, to_first_iteration=first.done - start,
                before_hook=hook_starts[0] - start, hook=sum(hook_seconds), scans=scans,
                iters=runner.iter)


def run_start(config: str, work_dir: str, resume: bool, max_iters: int) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--child', config, work_dir,
           '--max-iters', str(max_iters)] + (['--resume'] if resume else [])
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    results = [line[len('RESULT '):] for line in proc.stdout.splitlines()
               if line.startswith('RESULT ')]
    if proc.returncode != 0 or not results:
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}):\n'
                           f'{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}')
    out = json.loads(results[-1])
    out['process'] = wall
    return out


def report(name: str, out: dict) -> str:
    rest = out['to_first_iteration'] - out['before_hook'] - out['hook']
    lines = [f'  {name}: {out["to_first_iteration"]:.1f} s to iteration 1 = '
             f'{out["before_hook"]:.1f} s building (runner, data sets, model, checkpoint) + '
             f'DatasetCheckHook {out["hook"]:.1f} s + {rest:.1f} s to the end of the first '
             f'iteration (process {out["process"]:.1f} s, of which Python imports '
             f'{out["imports"]:.1f} s)']
    for split, scan in zip(('train', 'val'), out['scans']):
        lines.append(f'    {split}: {scan["details"]}')
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--entries', type=int, default=100000,
                        help='ImageNet training entries (default: 100000)')
    parser.add_argument('--val-entries', type=int, default=None,
                        help='ImageNet validation entries (default: entries / 25)')
    parser.add_argument('--city-entries', type=int, default=2975,
                        help='Cityscapes training pairs (default: 2975, the real train set)')
    parser.add_argument('--city-val-entries', type=int, default=500,
                        help='Cityscapes validation pairs (default: 500, the real val set)')
    parser.add_argument('--sets', nargs='+', choices=('imagenet', 'cityscapes'),
                        default=['imagenet', 'cityscapes'])
    parser.add_argument('--max-decode', default='default',
                        help="the hook's max_decode: N, or 'all' (default: the hook's own)")
    parser.add_argument('--work-dir', help='where to make the data and run (kept; default: a '
                        'temporary folder, removed)')
    parser.add_argument('--child', nargs=2, metavar=('CONFIG', 'WORK_DIR'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--resume', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--max-iters', type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        out = child(*args.child, resume=args.resume, max_iters=args.max_iters)
        print('RESULT ' + json.dumps(out), flush=True)
        return 0
    max_decode = args.max_decode
    if max_decode not in ('default', 'all'):
        max_decode = int(max_decode)
    hook_value = 'None' if max_decode == 'all' else max_decode
    val_entries = args.entries // 25 if args.val_entries is None else args.val_entries
    if args.work_dir:
        root = osp.abspath(args.work_dir)
        if osp.exists(root) and os.listdir(root):
            print(f'--work-dir {root} is not empty: give an empty or new folder')
            return 1
        os.makedirs(root, exist_ok=True)
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix='benchmark_dataset_check_')
        root = tmp.name
    print(f'{os.cpu_count()} CPUs (affinity {len(os.sched_getaffinity(0))}), work dir {root}, '
          f"DatasetCheckHook max_decode: {args.max_decode}", flush=True)
    summary = []
    try:
        for fmt in args.sets:
            sub = osp.join(root, fmt)
            os.makedirs(sub)
            start = time.perf_counter()
            if fmt == 'imagenet':
                data = make_imagenet_index(sub, args.entries, val_entries)
                what = (f'{args.entries} train + {val_entries} val entries, links to 8 '
                        'JPEGs of 500x375')
                n = args.entries
            else:
                data = make_cityscapes_index(sub, args.city_entries, args.city_val_entries)
                what = (f'{args.city_entries} train + {args.city_val_entries} val image/label '
                        'pairs, links to 4 pairs of 2048x1024 PNGs')
                n = args.city_entries
            print(f'{fmt}: {what} (made in {time.perf_counter() - start:.1f} s)', flush=True)
            config = write_config(osp.join(sub, f'tiny_{fmt}.py'), fmt, data, hook_value)
            work_dir = osp.join(sub, 'work_dir')
            first = run_start(config, work_dir, resume=False, max_iters=1)
            print(report('first start', first), flush=True)
            resumed = run_start(config, work_dir, resume=True, max_iters=2)
            print(report('resume     ', resumed), flush=True)
            if resumed['iters'] != 2:
                raise RuntimeError(f'the resumed run ended at iteration {resumed["iters"]}, '
                                   'expected 2')
            summary.append(
                f'{fmt} ({n} entries) first start {first["to_first_iteration"]:.1f} s '
                f'(hook {first["hook"]:.1f} s), resume {resumed["to_first_iteration"]:.1f} s '
                f'(hook {resumed["hook"]:.1f} s)')
            shutil.rmtree(data)  # the links go before the next set is made
    finally:
        if tmp is not None:
            tmp.cleanup()
    flags = []
    if args.sets != ['imagenet', 'cityscapes']:
        flags.append(f'--sets {" ".join(args.sets)}')
    if 'imagenet' in args.sets:
        flags.append(f'--entries {args.entries}')
    if 'cityscapes' in args.sets and args.city_entries != 2975:
        flags.append(f'--city-entries {args.city_entries}')
    if args.max_decode != 'default':
        flags.append(f'--max-decode {args.max_decode}')
    flags = ' '.join(flags)
    print(f'tools/benchmark_dataset_check.py {flags}: ' + '; '.join(summary) +
          ' (time to iteration 1 from building the runner)')
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(main())

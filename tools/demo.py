"""The quick start: CIRKD on a synthetic Cityscapes-format set, no download, a few minutes on a
2-core CPU (the README quotes the measured time).

    python tools/demo.py [--work-dir work_dirs/demo] [--iters 120] [--data-root DIR]

In one process, with a progress line per stage:

1. makes the synthetic Cityscapes-format set (``data/synthetic/cityscapes``; kept if there);
2. trains the teacher, ``configs/baselines/deeplabv3-r18_synthetic-cityscapes.py`` (skipped
   when its checkpoint is in the work dir);
3. trains the half-width student alone (its baseline), with logit KD alone, and with CIRKD
   (logit KD and the relational losses), on the same data with the same schedule: the configs'
   own, shortened to ``--iters`` iterations (120 by default, so that the whole demo fits in
   about four minutes on 2 CPU cores; the configs train 300);
4. scores the four on the validation images with mmseg's IoUMetric and prints the mIoU table;
5. writes ``WORK_DIR/demo.png``: for a few validation images, side by side, the image, the
   ground truth, and the teacher's, the student's alone, with logit KD and with CIRKD
   predictions, in mmseg's Cityscapes palette.

Each run is an ordinary mmengine run (logs and checkpoints in ``WORK_DIR/<name>``); the same
configs train with ``tools/train.py``.
"""
import argparse
import logging
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = 'data/synthetic/cityscapes'
TEACHER = 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'
STUDENT = 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py'
LOGIT_KD = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_logit-kd_synthetic-cityscapes.py'
CIRKD = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
RUNS = (  # name, config, row label, needs the teacher
    ('teacher', TEACHER, 'teacher  DeepLabV3-R18', False),
    ('student', STUDENT, 'student  DeepLabV3-R18 half width, alone', False),
    ('logit_kd', LOGIT_KD, 'student  + logit KD', True),
    ('cirkd', CIRKD, 'student  + CIRKD (logit KD + relations)', True),
)
PANEL_IMAGES = 4
DEMO_ITERS = 120  # the configs' 300-iteration schedule, shortened (poly lr over the 120)


class Progress:
    """``[demo k/n] what ... (seconds)`` lines."""

    def __init__(self, total: int):
        self.total, self.step, self.start = total, 0, time.perf_counter()

    def __call__(self, what: str):
        self.step += 1
        print(f'[demo {self.step}/{self.total} {time.perf_counter() - self.start:6.1f} s] {what}',
              flush=True)


def make_data(root: str) -> None:
    from mcl_mm.testing.synthetic_data import make_cityscapes
    if not osp.isdir(osp.join(root, 'gtFine', 'val')):
        make_cityscapes(root, seed=0)


def run(name: str, config: str, work_dir: str, iters: int, data_root: str,
        teacher_ckpt: str = None, load_from: str = None):
    """Train ``config`` for ``iters`` iterations (quietly; logs in the work dir), or load
    ``load_from`` instead, then score it on the validation set. Returns (mIoU, the runner)."""
    from mcl_mm.engine.runner_cfg import build_runner
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = osp.join(work_dir, name)
    cfg.log_level = 'ERROR'  # the demo prints its own progress; the log file has it all
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = data_root
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1  # scored once, by runner.test()
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters,
                                        max_keep_ckpts=1)
    cfg.default_hooks.logger.interval = max(iters // 5, 1)
    if teacher_ckpt is not None:
        cfg.model.teacher_ckpt = teacher_ckpt
    cfg.load_from = load_from
    runner = build_runner(cfg, data_splits=('train', 'val'))
    if load_from is None:
        runner.train()
    metrics = runner.test()
    return float(metrics['mIoU']), runner


def predictions(runner, count: int) -> list:
    """(B, H, W) predicted label maps of the first ``count`` validation images."""
    model = runner.model
    model.eval()
    out = []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            for sample in model.test_step(batch):
                out.append(sample.pred_sem_seg.data[0].cpu().numpy())
            if len(out) >= count:
                break
    return out[:count]


def colour(label: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Label map -> BGR image in the palette (ignored pixels black)."""
    image = np.zeros(label.shape + (3, ), np.uint8)
    valid = label < len(palette)
    image[valid] = palette[label[valid]][:, ::-1]
    return image


def panel(dataset, preds: dict, path: str) -> None:
    """A grid: one row per validation image; columns image, ground truth, then each run."""
    from mmseg.datasets import CityscapesDataset
    palette = np.array(CityscapesDataset.METAINFO['palette'], np.uint8)
    titles = ['image', 'ground truth'] + list(preds)
    rows = []
    for i in range(len(next(iter(preds.values())))):
        info = dataset.get_data_info(i)
        image = cv2.imread(info['img_path'])
        gt = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
        cells = [image, colour(gt, palette)] + [colour(p[i], palette) for p in preds.values()]
        rows.append(np.concatenate([cv2.resize(c, (image.shape[1], image.shape[0]),
                                               interpolation=cv2.INTER_NEAREST)
                                    for c in cells], axis=1))
    grid = np.concatenate(rows, axis=0)
    width = image.shape[1]
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for k, title in enumerate(titles):
        cv2.putText(header, title, (k * width + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(path, np.concatenate([header, grid], axis=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, default=DEMO_ITERS,
                        help='training iterations of each run (default: %(default)s)')
    parser.add_argument('--data-root', default=DATA,
                        help='the synthetic Cityscapes-format set (made there if missing)')
    args = parser.parse_args()
    # paths given are relative to where the command runs; the defaults to the repository
    args.work_dir = osp.abspath(args.work_dir) if '--work-dir' in sys.argv else \
        osp.join(ROOT, args.work_dir)
    args.data_root = osp.abspath(args.data_root) if '--data-root' in sys.argv else \
        osp.join(ROOT, args.data_root)
    os.chdir(ROOT)
    sys.path.insert(0, ROOT)
    import mcl_mm  # noqa: F401
    MMLogger.get_instance('mmengine').setLevel(logging.ERROR)
    iters = args.iters
    progress = Progress(total=len(RUNS) + 3)

    progress(f'synthetic Cityscapes-format set in {args.data_root}')
    make_data(args.data_root)
    teacher_ckpt = osp.join(args.work_dir, 'teacher', f'iter_{iters}.pth')
    results, preds, dataset = {}, {}, None
    for name, config, label, needs_teacher in RUNS:
        kept = name == 'teacher' and osp.isfile(teacher_ckpt)
        progress(f'{"scoring the kept" if kept else "training"} {label.split("  ")[1]} '
                 f'({config}{"" if kept else f", {iters} iterations"})')
        miou, runner = run(name, config, args.work_dir, iters, args.data_root,
                           teacher_ckpt if needs_teacher else None,
                           teacher_ckpt if kept else None)
        results[label] = miou
        preds[name.replace('_', ' ')] = predictions(runner, PANEL_IMAGES)
        dataset = runner.test_dataloader.dataset
        del runner
    progress('mIoU on the synthetic validation images')
    n = len(dataset)
    print(f'[demo] synthetic Cityscapes val ({n} images), mIoU after {iters} iterations each:')
    print(f'[demo] | {"model":44s} | mIoU  |')
    for label, miou in results.items():
        print(f'[demo] | {label:44s} | {miou:5.2f} |')
    png = osp.join(args.work_dir, 'demo.png')
    panel(dataset, preds, png)
    progress(f'wrote {png}: image, ground truth, teacher, student alone, + logit KD, + CIRKD')


if __name__ == '__main__':
    main()

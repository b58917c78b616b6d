"""Time one CIRKD training iteration, split into teacher forward, student forward + backward,
and the distillation losses (forward + backward).

    python tools/benchmark_cirkd_iteration.py CONFIG [--size H W] [--batch B] [--repeats N]

CONFIG is a distiller config (e.g. configs/cirkd/deeplabv3_r101_to_r18_cityscapes.py, whose
default input is its 512x1024 crop). The teacher is random (no checkpoint is needed) and the
student is not initialised from ImageNet: the timings do not depend on the weights. The
losses' share is the full step (student + teacher + losses, one backward) minus the teacher
forward and the student-only step; medians of ``--repeats`` after one warm-up. The peak
memory of the loss stack alone is measured by ``tools/benchmark_cirkd.py``.
"""
import argparse
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import PixelData

import mcl_mm  # noqa: F401


def build(config: str):
    cfg = Config.fromfile(config)
    model_cfg = cfg.model
    model_cfg.update(teacher_ckpt=None, random_teacher=True)
    model_cfg.student['pretrained'] = None
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(model_cfg)
    return model.train()


def batch(model, b: int, h: int, w: int):
    from mmseg.structures import SegDataSample
    num_classes = model.student.decode_head.num_classes
    inputs = torch.randn(b, 3, h, w)
    samples = []
    for _ in range(b):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w)))
        samples.append(s)
    return inputs, samples


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    model = build(args.config)
    h, w = args.size or model.data_preprocessor.size
    inputs, samples = batch(model, args.batch, h, w)

    def teacher():
        with torch.no_grad():
            model.teacher(inputs, samples, mode='tensor')

    def student():
        model.zero_grad()
        losses = model.student(inputs, samples, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    def full():
        model.zero_grad()
        losses = model(inputs, samples, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    t_teacher, t_student, t_full = (timed(f, args.repeats) for f in (teacher, student, full))
    t_losses = t_full - t_teacher - t_student
    print(f'{args.config}: batch {args.batch} x {h}x{w}, {torch.get_num_threads()} threads, '
          f'median of {args.repeats}')
    for name, value in (('teacher forward', t_teacher), ('student forward+backward', t_student),
                        ('distillation losses', t_losses), ('whole iteration', t_full)):
        print(f'  {name:26s} {value:8.3f} s  {value / t_full:6.1%}')
    print(f'  losses / student step     {t_losses / t_student:8.2f}')


if __name__ == '__main__':
    main()

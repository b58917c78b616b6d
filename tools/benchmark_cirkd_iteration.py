"""Time one CIRKD training iteration, split into teacher forward, student forward + backward,
and the distillation losses (forward + backward down to the recorded student tensors), and
compare it with a training step of the student alone.

    python tools/benchmark_cirkd_iteration.py CONFIG [--size H W] [--batch B] [--repeats N]
        [--teacher-dtype bfloat16|float16] [--channels-last] [--threads N]

CONFIG is a distiller config (e.g. configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_cityscapes.py, whose
default input is its 512x1024 crop). The teacher is random (no checkpoint is needed) and the
student is not initialised from ImageNet: the timings do not depend on the weights. One
step runs as the distiller's does, each part timed on its own: the student forward, the
teacher forward, the distillation losses forward and their gradient down to the recorded
student tensors (``torch.autograd.grad``), then the student backward of its own losses plus
that gradient. The student-alone step is the forward and backward of the student's own
losses on the same batch (what training the student without distillation costs per step, at
the same precision: the student always runs in float32 here). Medians of ``--repeats`` after
one warm-up. ``--teacher-dtype`` / ``--channels-last`` set ``model.teacher_precision`` (the
teacher runs through the distiller's own ``run_teacher``). The peak memory of the loss stack
alone is measured by ``tools/benchmark_cirkd.py``.
"""
import argparse
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import PixelData

import mcl_mm  # noqa: F401


def build(config: str, teacher_precision: dict = None):
    cfg = Config.fromfile(config)
    model_cfg = cfg.model
    model_cfg.update(teacher_ckpt=None, random_teacher=True)
    if teacher_precision:
        model_cfg.teacher_precision = teacher_precision
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


def step(model, inputs, samples):
    """One distiller training step; returns (teacher, student, losses) seconds."""
    model.zero_grad()
    t0 = time.perf_counter()
    s_losses = model.student(inputs, samples, mode='loss')
    s_total = sum(v for k, v in s_losses.items() if 'loss' in k)
    t1 = time.perf_counter()
    model.run_teacher(inputs, samples)
    t2 = time.perf_counter()
    padded = tuple(inputs.shape[-2:])
    records = model.recorded(samples, dict(student=padded, teacher=padded))
    d_total = sum(model.distillation_losses(records).values())
    feats = [v[0] for v in records.values() if v[0].requires_grad]
    params = [p for p in model.distill_losses.parameters() if p.requires_grad]
    grads = torch.autograd.grad(d_total, feats + params, retain_graph=True)
    t3 = time.perf_counter()
    torch.autograd.backward([s_total, *feats], [None, *grads[:len(feats)]])
    t4 = time.perf_counter()
    model._clear()
    return t2 - t1, (t1 - t0) + (t4 - t3), t3 - t2


def student_step(model, inputs, samples):
    """One training step of the student alone (its own losses); returns seconds."""
    model.zero_grad()
    t0 = time.perf_counter()
    losses = model.student(inputs, samples, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    t1 = time.perf_counter()
    model._clear()
    return t1 - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--teacher-dtype', choices=['bfloat16', 'float16'],
                        help='model.teacher_precision.dtype (default: float32)')
    parser.add_argument('--channels-last', action='store_true',
                        help='model.teacher_precision.channels_last=True')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    precision = dict(dtype=args.teacher_dtype, channels_last=args.channels_last)
    model = build(args.config, precision)
    h, w = args.size or model.student.data_preprocessor.size
    inputs, samples = batch(model, args.batch, h, w)

    step(model, inputs, samples)  # warm-up
    student_step(model, inputs, samples)
    runs, alone = [], []
    for _ in range(args.repeats):  # interleaved, so that both see the same machine state
        runs.append(step(model, inputs, samples))
        alone.append(student_step(model, inputs, samples))
    t_teacher, t_student, t_losses = (statistics.median(r[i] for r in runs) for i in range(3))
    t_full = t_teacher + t_student + t_losses
    t_alone = statistics.median(alone)
    teacher = (f'teacher {args.teacher_dtype or "float32"}'
               f'{", channels-last" if args.channels_last else ""}')
    print(f'{args.config}: batch {args.batch} x {h}x{w}, {torch.get_num_threads()} threads, '
          f'{teacher}, median of {args.repeats}')
    for name, value in (('teacher forward', t_teacher), ('student forward+backward', t_student),
                        ('distillation losses', t_losses), ('whole iteration', t_full)):
        print(f'  {name:26s} {value:8.3f} s  {value / t_full:6.1%}')
    print(f'  student-alone step        {t_alone:8.3f} s')
    print(f'  iteration / student alone {t_full / t_alone:8.2f}x')
    print(f'  losses / student step     {t_losses / t_student:8.2f}')


if __name__ == '__main__':
    main()

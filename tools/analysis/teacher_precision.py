"""How much a reduced-precision teacher changes what the student is distilled from.

    python tools/analysis/teacher_precision.py CONFIG CHECKPOINT [--dtype bfloat16]
        [--channels-last] [--data-root DIR] [--num-images N]
        [--relation-input MODULE] [--tau TAU] [--relation-rows R]

CONFIG is a segmentor config (the teacher's, e.g.
``configs/baselines/deeplabv3-r18_synthetic-cityscapes.py``) and CHECKPOINT its trained weights
(e.g. the demo's ``work_dirs/demo/teacher/iter_120.pth``). The first ``--num-images`` images of
its validation set run through the model's whole-image forward (``encode_decode``, what a
distiller's teacher runs) twice: in float32 (the reference) and as
``model.teacher_precision=dict(dtype=..., channels_last=...)`` runs it (autocast, channels-last
memory format). Printed: the share of pixels whose predicted class agrees, the largest and
mean absolute difference of the logits, the mean KL divergence between the two softmaxes
(what logit KD at T = 1 would see), and the seconds of each forward.

The relation targets of the CIRKD losses are printed too: the input of ``--relation-input``
(default ``decode_head.conv_seg``, the feature the CIRKD configs record; a model without that
module, e.g. a query-based head, skips them unless the option names its feature) is
L2-normalised per pixel, and for ``--relation-rows`` pixels of each image (a fixed random
choice) the softmax over all the image's pixels of their dot products divided by ``--tau``
(0.1, the configs' temperature) is compared: mean KL(float32 || reduced) per row, a
within-image proxy for how far the relation losses' targets move (their mini-batch loss also
pairs pixels across images, the memory loss pixels with a queue).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

import mcl_mm  # noqa: F401
from mcl_mm.models.recorder import ModuleRecorder

DTYPES = dict(bfloat16=torch.bfloat16, float16=torch.float16)
CONV_SEG = 'decode_head.conv_seg'  # the relation feature's module in the CIRKD configs


def relation_kl(ref: torch.Tensor, out: torch.Tensor, tau: float, rows: int,
                generator: torch.Generator) -> float:
    """Mean KL(softmax(ref rows) || softmax(out rows)) of the pixel relations of (1, C, h, w)
    features: ``rows`` pixels against all, dot products of unit vectors divided by tau."""
    ref, out = (F.normalize(x[0].flatten(1).t(), dim=1) for x in (ref, out))  # (h·w, C)
    pick = torch.randperm(ref.shape[0], generator=generator)[:rows].to(ref.device)
    log_p, log_q = (F.log_softmax(x[pick] @ x.t() / tau, dim=1) for x in (ref, out))
    return F.kl_div(log_q, log_p, log_target=True, reduction='none').sum(1).mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--dtype', choices=list(DTYPES), default=None,
                        help='autocast dtype of the reduced-precision pass (default: none)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--data-root', help='the validation set (default: the config\'s)')
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--relation-input',
                        help=f'module whose input is the relation feature (default: {CONV_SEG}, '
                        'skipped where the model has none)')
    parser.add_argument('--tau', type=float, default=0.1,
                        help='temperature of the relation softmax (default: %(default)s)')
    parser.add_argument('--relation-rows', type=int, default=1024,
                        help='pixels per image whose relation rows are compared '
                             '(default: %(default)s)')
    args = parser.parse_args()
    if args.dtype is None and not args.channels_last:
        parser.error('give --dtype and/or --channels-last: otherwise both passes are float32')

    cfg = Config.fromfile(args.config)
    if args.data_root:
        cfg.val_dataloader.dataset.data_root = args.data_root
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        from mmengine.registry import DATASETS, MODELS
        model = MODELS.build(cfg.model).eval()
        load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
        dataset = DATASETS.build(cfg.val_dataloader.dataset)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device)
    reduced = dict(dtype=DTYPES.get(args.dtype), channels_last=args.channels_last)
    if args.relation_input is None and CONV_SEG in dict(model.named_modules()):
        args.relation_input = CONV_SEG
    feature = None if args.relation_input is None else ModuleRecorder(
        model, dict(module=args.relation_input, io='input'), '--relation-input')
    rows_generator = torch.Generator().manual_seed(0)

    agree = total = 0
    max_diff, mean_diffs, kls, times = 0.0, [], [], dict(float32=[], reduced=[])
    relation_kls = []
    for i in range(min(args.num_images, len(dataset))):
        data = model.data_preprocessor(
            dict(inputs=[dataset[i]['inputs']], data_samples=[dataset[i]['data_samples']]))
        inputs, metas = data['inputs'], [s.metainfo for s in data['data_samples']]
        with torch.no_grad():
            t0 = time.perf_counter()
            ref = model.encode_decode(inputs, metas).float()
            t1 = time.perf_counter()
            ref_feature = None if feature is None else feature.get().float()
            if reduced['channels_last']:
                model.to(memory_format=torch.channels_last)
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device, dtype=reduced['dtype'] or torch.float32,
                                enabled=reduced['dtype'] is not None):
                out = model.encode_decode(inputs, metas).float()
            t2 = time.perf_counter()
            if reduced['channels_last']:
                model.to(memory_format=torch.contiguous_format)
            if feature is not None:
                relation_kls.append(relation_kl(ref_feature, feature.get().float(), args.tau,
                                                args.relation_rows, rows_generator))
        times['float32'].append(t1 - t0)
        times['reduced'].append(t2 - t1)
        agree += (ref.argmax(1) == out.argmax(1)).sum().item()
        total += ref.shape[0] * ref.shape[2] * ref.shape[3]
        diff = (ref - out).abs()
        max_diff = max(max_diff, diff.max().item())
        mean_diffs.append(diff.mean().item())
        kls.append(F.kl_div(F.log_softmax(out, 1), F.log_softmax(ref, 1), log_target=True,
                            reduction='none').sum(1).mean().item())
    name = f'{args.dtype or "float32"}{", channels-last" if args.channels_last else ""}'
    print(f'{args.config} ({args.checkpoint}), {len(kls)} validation images, {device}, '
          f'{torch.get_num_threads()} threads: float32 vs {name}')
    print(f'  predicted class agrees on   {100 * agree / total:.3f} % of the pixels')
    print(f'  logits |difference|          max {max_diff:.3g}, mean {statistics.mean(mean_diffs):.3g}')
    print(f'  KL(float32 || {name}) per pixel, mean {statistics.mean(kls):.3g}')
    if feature is None:
        print(f'  relation rows: skipped (the model has no {CONV_SEG}; name the relation '
              'feature with --relation-input)')
    else:
        print(f'  relation rows (input of {args.relation_input}, tau {args.tau}): '
              f'KL(float32 || {name}) per row, mean {statistics.mean(relation_kls):.3g}')
    print(f'  forward seconds per image    float32 {statistics.median(times["float32"]):.3f}, '
          f'{name} {statistics.median(times["reduced"]):.3f} (medians)')


if __name__ == '__main__':
    main()

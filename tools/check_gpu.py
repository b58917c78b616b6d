"""The GPU check: every mcl_mm loss on CUDA against the CPU, and the CIRKD paper config on CUDA
with and without ``--amp``.

    python tools/check_gpu.py [--iters 20] [--work-dir work_dirs/check_gpu] [--skip-training]

1. Losses: PixelKDLoss, CrossImagePixelLoss, CIRKDMemoryLoss, MCLLoss (in-batch, memory and
   pixel forms, and layer-wise views) and MutualKDLoss at the papers' shapes (CIRKD: B=2,
   64x128 feature maps, 19 classes; MCL: batch 64, 512 channels), on the CPU in float32 as the
   reference, then on CUDA in float32 and under fp16 and bf16 autocast. Values and input
   gradients are compared (relative error of the value, and of the gradient in the L2 norm);
   a loss outside its tolerance makes the script exit with 1.
2. Training: ``tools/train.py configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_cityscapes.py`` for
   ``--iters`` iterations on a synthetic Cityscapes-layout set (made here; the crops are the
   paper's 512x1024, the images upscaled to them) with a random teacher and no ImageNet
   initialisation (no network needed), once in fp32 and once with ``--amp``; prints the median
   iteration time (after 5 warm-up iterations) and the peak GPU memory that mmengine logs.

Exits with 2 and says so where CUDA is not available.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER = 'configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_cityscapes.py'
# (fp32, fp16, bf16) tolerances on the relative errors of value and gradient
TOLERANCE = dict(float32=1e-4, float16=2e-2, bfloat16=5e-2)


def _inputs(h: int = 64, w: int = 128, seed: int = 0):
    """Random loss inputs; CIRKD's at (B=2, h x w feature maps), the labels at 8x that."""
    g = torch.Generator().manual_seed(seed)
    B, K = 2, 19
    labels = torch.randint(0, K, (B, 8 * h, 8 * w), generator=g)
    labels[:, :32] = 255
    return dict(
        kd=(torch.randn(B, K, h, w, generator=g), torch.randn(B, K, h, w, generator=g)),
        feats=(torch.randn(B, 128, h, w, generator=g), torch.randn(B, 256, h, w, generator=g)),
        labels=labels,
        emb=[torch.randn(64, 512, generator=g) for _ in range(2)],
        cls=torch.randint(0, 10, (64, ), generator=g),
        idx=torch.randperm(1000, generator=g)[:64],
        dense=[torch.randn(2, 64, 32, 32, generator=g) for _ in range(2)],
        views=[[torch.randn(32, 256, generator=g) for _ in range(3)] for _ in range(2)],
        logits=[torch.randn(64, 100, generator=g) for _ in range(3)])


def _cases():
    """name -> (build the loss, run it on (inputs, device) returning a scalar and the tensors
    whose gradients are compared)."""
    from mcl_mm.models.losses import (CIRKDMemoryLoss, CrossImagePixelLoss, MCLLoss,
                                      MutualKDLoss, PixelKDLoss)

    def req(*xs):
        return [x.clone().requires_grad_(True) for x in xs]

    def kd(loss, x):
        s, t = req(*x['kd'])
        return loss(s, t.detach()), [s]

    def batch(loss, x):
        s, t = req(*x['feats'])
        return loss(s, t.detach()), [s]

    def memory(loss, x):
        s, t = req(*x['feats'])
        out = loss(s, t.detach(), x['labels'])
        return out['pixel'] + out['region'], [s]

    def mcl(loss, x, key='emb', labels='cls', idx=None):
        feats = req(*x[key])
        out = loss(feats, labels=x[labels], sample_idx=None if idx is None else x[idx])
        return sum(out.values()), feats

    def lmcl(loss, x):
        views = [req(*member) for member in x['views']]
        out = loss(views, labels=x['cls'][:32])
        return sum(out.values()), [v for member in views for v in member]

    def mutual(loss, x):
        logits = req(*x['logits'])
        return loss(logits), logits

    memory_cfg = dict(num_samples=1000, momentum=0.5, pos_k=1, neg_k=256)
    return {
        'PixelKDLoss': (lambda: PixelKDLoss(), kd),
        'CrossImagePixelLoss': (lambda: CrossImagePixelLoss(), batch),
        'CIRKDMemoryLoss': (lambda: CIRKDMemoryLoss(19, 128, 256, pixel_memory_size=2000,
                                                    region_memory_size=200), memory),
        'MCLLoss in-batch': (lambda: MCLLoss([512, 512]), mcl),
        'MCLLoss memory': (lambda: MCLLoss([512, 512], tau=0.07, memory=memory_cfg),
                           lambda loss, x: mcl(loss, x, idx='idx')),
        'MCLLoss pixel': (lambda: MCLLoss([64, 64], pixel_sampling=dict(pixels_per_class=8)),
                          lambda loss, x: mcl(loss, x, key='dense', labels='pix')),
        'MCLLoss layer-wise': (lambda: MCLLoss([[256] * 3, [256] * 3]), lmcl),
        'MutualKDLoss': (lambda: MutualKDLoss(), mutual),
    }


def _run(build, run, x, device, dtype):
    torch.manual_seed(0)
    loss = build().to(device)
    x = {k: ([t.to(device) for t in v] if isinstance(v, list) and v and
             isinstance(v[0], torch.Tensor) else
             [[t.to(device) for t in m] for m in v] if isinstance(v, list) else
             tuple(t.to(device) for t in v) if isinstance(v, tuple) else v.to(device))
         for k, v in x.items()}
    with torch.autocast(device_type=device, dtype=dtype, enabled=dtype != torch.float32):
        value, leaves = run(loss, x)
    value.backward()
    return value.detach().float().cpu(), [t.grad.float().cpu() for t in leaves]


def check_losses(device: str = 'cuda', inputs: dict = None) -> bool:
    """Print the comparison table; True if every loss is within its tolerance."""
    x = inputs or _inputs()
    x['pix'] = torch.randint(0, 5, (2, 256, 256), generator=torch.Generator().manual_seed(1))
    ok = True
    print(f'{"loss":22s} {"precision":9s} {"value":>12s} {"rel. err value":>15s} '
          f'{"rel. err grad":>14s}')
    for name, (build, run) in _cases().items():
        ref_value, ref_grads = _run(build, run, x, 'cpu', torch.float32)
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            value, grads = _run(build, run, x, device, dtype)
            err_v = float((value - ref_value).abs() / ref_value.abs().clamp_min(1e-12))
            err_g = max(float((g - r).norm() / r.norm().clamp_min(1e-12))
                        for g, r in zip(grads, ref_grads))
            tol = TOLERANCE[str(dtype).split('.')[-1]]
            good = err_v <= tol and err_g <= tol and bool(torch.isfinite(value))
            ok &= good
            print(f'{name:22s} {str(dtype).split(".")[-1]:9s} {float(value):12.6f} '
                  f'{err_v:15.2e} {err_g:14.2e}{"" if good else "  FAILED (tol " + str(tol) + ")"}')
    return ok


def parse_log(log: str, warmup: int = 5):
    """(median iteration time in s after ``warmup`` iterations, peak memory in MiB) from an
    mmengine training log (``Iter(train) [k/n] ... time: T ... memory: M``)."""
    times, memory = [], []
    for line in log.splitlines():
        m = re.search(r'Iter\(train\)\s*\[\s*(\d+)/\d+\].*?\btime: ([\d.]+).*?memory: (\d+)',
                      line)
        if m:
            if int(m.group(1)) > warmup:
                times.append(float(m.group(2)))
            memory.append(int(m.group(3)))
    if not times:
        raise ValueError('no training iteration after the warm-up found in the log')
    return statistics.median(times), max(memory)


def train(iters: int, work_dir: str, amp: bool) -> tuple:
    data = os.path.join(work_dir, 'cityscapes')
    if not os.path.isdir(data):
        subprocess.run([sys.executable, 'tools/misc/make_synthetic_data.py', 'cityscapes', data,
                        '--num-train', '16', '--num-val', '2'], cwd=REPO, check=True)
    cmd = [sys.executable, 'tools/train.py', PAPER, '--work-dir',
           os.path.join(work_dir, 'amp' if amp else 'fp32'), *(['--amp'] if amp else []),
           '--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                              for s in ('train', 'val', 'test')],
           'model.teacher_ckpt=None', 'model.random_teacher=True', 'model.student.pretrained=None',
           f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters + 1}',
           f'default_hooks.checkpoint.interval={iters + 1}', 'default_hooks.logger.interval=1',
           'train_dataloader.num_workers=2']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-6000:])
        raise SystemExit(f'training failed: {" ".join(cmd)}')
    return parse_log(proc.stdout + proc.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--work-dir', default=os.path.join(tempfile.gettempdir(), 'check_gpu'))
    parser.add_argument('--skip-training', action='store_true')
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print('check_gpu: no CUDA device is available here; nothing was checked.')
        raise SystemExit(2)
    print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}')
    ok = check_losses()
    if not args.skip_training:
        os.makedirs(args.work_dir, exist_ok=True)
        for amp in (False, True):
            t, mem = train(args.iters, args.work_dir, amp)
            print(f'{PAPER} {"--amp" if amp else "fp32 "}: {t:.3f} s / iteration (median of '
                  f'iterations 6..{args.iters}), peak GPU memory {mem} MiB')
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    main()

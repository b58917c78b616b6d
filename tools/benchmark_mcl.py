"""Time, CPU time and peak memory of mcl_mm's MCL loss (forward + backward), optionally against
the authors' MCL loss code (``winycg/MCL``) on the same inputs.

    python tools/benchmark_mcl.py [--repeats 3] [--cases imagenet cityscapes-pixel ...]
        [--reference REPO_DIR] [--threads N] [--device cpu|cuda] [--rounds R] [--no-trim]
        [--json PATH]

Cases (all with two members, 128-d projections, the paper's weights VCL 0.1, soft VCL 1,
ICL 0.1, soft ICL 1, T 3):

* ``imagenet``: the memory form at the ImageNet recipe (the authors' ``main_imagenet.py`` and
  configs/mcl/resnet18x2_90e_imagenet.py): ResNet-18 pooled embeddings (512-d), tau 0.07,
  one memory per member over the 1,281,167 training images (2 x 1281167 x 128 floats,
  1.3 GB: their real size), momentum 0.5, pos_k 1, neg_k 8192, 1000 classes, at B = 32 rows,
  the per-GPU batch of mcl_mm's config (8 GPUs x 32, memory update with the gathered batch).
* ``imagenet-b256``: the same at B = 256: the authors trained ImageNet on one GPU with
  ``nn.DataParallel`` (batch 256), so their loss sees the whole batch of 256 at once.
* ``cityscapes-pixel``: the pixel-level form of configs/mcl/deeplabv3-r18x2_40k_cityscapes.py:
  two DeepLabV3-R18 members whose embeddings are the 128-channel inputs of
  ``decode_head.conv_seg`` at 64x128 (512x1024 crops, output stride 8), batch 2, 19 classes,
  labels 512x1024 (random 16x16-pixel blocks at the feature grid, 10 % of blocks ignored),
  ``pixel_sampling=dict(pixels_per_class=16, ignore_index=255)``, tau 0.1.
* ``tiny`` (memory form: 8 rows, 16 channels, 64 slots, pos_k 2, neg_k 16, 4 classes) and
  ``tiny-pixel`` (8x16 features, 16 channels, 5 classes): smoke tests.

What the reference is, and what is compared:

* memory cases: ``losses/imagenet_sup_mcl_loss.py``, ``Sup_MCL_Loss(args)``, called as in
  their ``main_imagenet.py`` with ``(embeddings, pos_idx, neg_idx)``. Both get the same
  projection-head weights and the same memories (the reference's buffers are our module's
  tensors) and the same slots: [own, pos_k same-class slots, neg_k slots of other classes],
  drawn in set-up as their ``ImageFolderSample`` draws them (every slot's class known: the
  state after the first epoch). Their draw happens in the data loader, outside the loss, so
  it is not timed; ours draws inside the loss: our module still makes its own draw in the
  timed pass (its cost is counted, shown as ``sampling``), whose slots are then replaced by
  the shared ones. With those slots none of our masks removes an entry (no negative is the
  own slot or of the anchor's class), so all four terms must agree.
* pixel cases: ``losses/cifar_sup_mcl_loss.py`` (their in-batch supervised form; they have no
  pixel form) on the pixels our module samples: the positions are drawn in set-up by our
  sampler with our generator's state, and the reference's timed pass gathers the two
  members' features at them and calls ``Sup_MCL_Loss(args)(embeddings, labels)``. VCL and ICL
  are the same definition (the diagonal left out of positives and softmax) and must agree.
  The soft terms differ by definition: the reference's KL terms keep the diagonal (a pixel
  against itself), ours leave it out of both distributions; the reference's soft values are
  printed (``ref soft, diagonal kept``) with their difference, not checked, and the soft terms
  are checked against the reference re-run (untimed) with its ``KLDiv`` given the diagonal
  masked (``soft_vcl_nodiag``, ``soft_icl_nodiag``).

Every (case, implementation) runs in a fresh subprocess worker, after a warm-up pass at the
tiny case of the same form; ``--rounds R`` measures each implementation R times, alternating
the order (ours, reference, then reference, ours, ...), and prints the median of the rounds'
ratios. Time: median of ``--repeats`` forward + backward passes, wall
seconds; cpu: CPU seconds of the process in the same passes (all threads,
``time.process_time``); memory: peak RSS during the passes (VmHWM, reset after set-up) minus
RSS after set-up, in MiB (on CUDA ``torch.cuda.max_memory_allocated`` over the allocated
memory after set-up); faults: minor page faults per pass (median). At the pixel case's small
sizes a pass takes 20-40 ms, and a few thousand faults per pass (glibc returning freed memory
to the system and taking it back, which varies between fresh processes with the heap's
layout) move it by several ms: ``--no-trim`` runs both workers with glibc keeping the memory
it frees (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_`` set high), which times the
loss code without them. (glibc 2.36 here takes a 1 GiB mmap threshold; a glibc that caps it at
32 MiB ignores it and, the trimming setting having fixed the threshold, maps every block above
128 KiB anew: the faults column then shows more faults, not 0.) On CPU the reference is
patched minimally: ``torch.Tensor.cuda`` is a no-op. Its code is loaded from REPO_DIR, never
copied here, e.g.

    mkdir -p /tmp/mcl_ref
    git --git-dir=<MCL mirror> archive HEAD losses | tar -x -C /tmp/mcl_ref

``--json PATH`` writes every result (times, CPU times, peaks, values, ratios) to PATH. With
``--reference`` the exit status is non-zero if a checked value differs by more than 1e-5
(relative to max(1, |value|)).
"""
import argparse
import gc
import importlib.util
import json
import os
import re
import resource
import statistics
import sys
import time
from types import SimpleNamespace

# the tools folder, also when this file is loaded by path (tests)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_common import TOLERANCE, compare, run_worker  # noqa: E402,F401 (TOLERANCE: tests)

WEIGHTS = dict(vcl=0.1, soft_vcl=1.0, icl=0.1, soft_icl=1.0)
# --no-trim: glibc's thresholds fixed high, so freed memory stays in the process (both workers)
NO_TRIM_ENV = dict(MALLOC_TRIM_THRESHOLD_=str(1 << 40), MALLOC_MMAP_THRESHOLD_=str(1 << 30))
TERMS = tuple(WEIGHTS)
_IMAGENET = dict(form='memory', B=32, C=512, D=128, n_data=1281167, classes=1000, pos_k=1,
                 neg_k=8192, momentum=0.5, tau=0.07, T=3.0)
CASES = {
    'imagenet': _IMAGENET,
    'imagenet-b256': dict(_IMAGENET, B=256),
    'cityscapes-pixel': dict(form='pixel', B=2, C=128, D=128, h=64, w=128, stride=8,
                             classes=19, block=4, pixels_per_class=16, tau=0.1, T=3.0),
    'tiny': dict(form='memory', B=8, C=16, D=16, n_data=64, classes=4, pos_k=2, neg_k=16,
                 momentum=0.5, tau=0.07, T=3.0),
    'tiny-pixel': dict(form='pixel', B=2, C=16, D=16, h=8, w=16, stride=4, classes=5, block=2,
                       pixels_per_class=4, tau=0.1, T=3.0),
}
DEFAULT_CASES = ('imagenet', 'imagenet-b256', 'cityscapes-pixel', 'tiny')
WARMUP = dict(memory='tiny', pixel='tiny-pixel')


# ------------------------------------------------------------------ inputs


def make_inputs(case, device):
    """Features (requires_grad), labels and, for the memory form, the slots and the sampled
    batch; the memory form's slots are drawn as the authors' ImageFolderSample draws them."""
    import torch
    g = torch.Generator().manual_seed(1)
    B, C = case['B'], case['C']
    if case['form'] == 'memory':
        n, K = case['n_data'], case['classes']
        slot_labels = torch.randint(K, (n, ), generator=g)
        sample_idx = torch.randperm(n, generator=g)[:B]
        labels = slot_labels[sample_idx]
        # pos_k distinct slots of the anchor's class other than its own
        order = torch.argsort(slot_labels, stable=True)
        counts = torch.bincount(slot_labels, minlength=K)
        starts = torch.cumsum(counts, 0) - counts
        pos = []
        for s, c in zip(sample_idx.tolist(), labels.tolist()):
            group = order[starts[c]:starts[c] + counts[c]]
            group = group[group != s]
            if group.numel() < case['pos_k']:
                raise ValueError(f'class {c} has fewer than pos_k + 1 slots')
            pos.append(group[torch.randperm(group.numel(), generator=g)[:case['pos_k']]])
        # neg_k slots drawn uniformly among the other classes' (rejection: exactly uniform)
        neg = torch.randint(n, (B, case['neg_k']), generator=g)
        while True:
            same = slot_labels[neg] == labels[:, None]
            if not bool(same.any()):
                break
            neg[same] = torch.randint(n, (int(same.sum()), ), generator=g)
        idx = torch.cat([sample_idx[:, None], torch.stack(pos), neg], 1)
        feats = [torch.rand(B, C, generator=g) for _ in range(2)]  # pooled, after a ReLU
        out = dict(feats=feats, labels=labels, sample_idx=sample_idx, idx=idx,
                   slot_labels=slot_labels)
    else:
        h, w, s, blk = case['h'], case['w'], case['stride'], case['block']
        coarse = torch.randint(case['classes'], (B, h // blk, w // blk), generator=g)
        coarse[torch.rand(coarse.shape, generator=g) < 0.1] = 255
        labels = coarse.repeat_interleave(blk * s, 1).repeat_interleave(blk * s, 2)
        feats = [torch.randn(B, C, h, w, generator=g) for _ in range(2)]
        out = dict(feats=feats, labels=labels)
    out = {k: ([f.to(device) for f in v] if k == 'feats' else v) for k, v in out.items()}
    for f in out['feats']:
        f.requires_grad_(True)
    return out


def build_ours_module(case, device):
    import torch

    from mcl_mm.models.losses import MCLLoss
    torch.manual_seed(0)  # the projection heads' initialisation
    kw = dict(in_channels=[case['C'], case['C']], embed_dim=case['D'], tau=case['tau'],
              kd_temperature=case['T'], loss_weights=WEIGHTS, seed=0)
    if case['form'] == 'memory':
        kw['memory'] = dict(num_samples=case['n_data'], momentum=case['momentum'],
                            pos_k=case['pos_k'], neg_k=case['neg_k'])
    else:
        kw['pixel_sampling'] = dict(pixels_per_class=case['pixels_per_class'], ignore_index=255)
    return MCLLoss(**kw).to(device)


def _timed(fn, log):
    """``fn`` whose wall seconds are appended to ``log``."""
    def wrapped(*args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        log.append(time.perf_counter() - t0)
        return out

    return wrapped


def build_ours(case, x, device, sampling_log):
    """``run() -> weighted values`` of our module; the time of its own draws goes to
    ``sampling_log``."""
    m = build_ours_module(case, device)
    if case['form'] == 'memory':
        m.memory_labels.copy_(x['slot_labels'].to(m.memory_labels.device))
        draw = _timed(m._draw_contrast_idx, sampling_log)
        idx = x['idx'].to(m.memory_labels.device)

        def shared_draw(*args):
            draw(*args)  # our own draw, counted; its slots replaced by the shared ones
            return idx

        m._draw_contrast_idx = shared_draw

        def run():
            out = m(x['feats'], x['labels'], x['sample_idx'])
            return {k: out[f'loss_{k}'] for k in TERMS}
    else:
        m._sample_pixel_positions = _timed(m._sample_pixel_positions, sampling_log)

        def run():
            out = m(x['feats'], x['labels'])
            return {k: out[f'loss_{k}'] for k in TERMS}

    return run, None


def _load(path, name):
    spec = importlib.util.spec_from_file_location(f'mcl_reference_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _patch_reference_runtime(device):
    """CPU shim for the reference: ``Tensor.cuda`` is a no-op."""
    import torch
    if device == 'cpu':
        torch.Tensor.cuda = lambda self, *args, **kwargs: self


def _diagonal_masked(kl):
    """The reference's KLDiv with the diagonal of both (R, R) logits left out (a finite large
    negative: the teacher's probability there is exactly 0, the term 0), as our soft terms."""
    import torch
    from torch import nn

    class DiagonalMaskedKL(nn.Module):
        def forward(self, y_s, y_t):
            eye = torch.eye(y_s.shape[0], dtype=torch.bool, device=y_s.device)
            return kl(y_s.masked_fill(eye, -1e9), y_t.masked_fill(eye, -1e9))

    return DiagonalMaskedKL()


def build_reference(case, x, device, repo_dir):
    """``run() -> weighted values`` of the authors' loss, and ``extra() -> values`` (untimed
    checks) or None."""
    import torch
    _patch_reference_runtime(device)
    ours = build_ours_module(case, device)  # the heads (and memories) both use
    args = SimpleNamespace(number_net=2, feat_dim=case['D'], tau=case['tau'], kd_T=case['T'])
    losses_dir = os.path.join(repo_dir, 'losses')
    if case['form'] == 'memory':
        mod = _load(os.path.join(losses_dir, 'imagenet_sup_mcl_loss.py'), 'imagenet')
        # built with one slot, then given our module's memories (no copy): the same contents
        args = SimpleNamespace(**vars(args), n_data=1, nce_m=case['momentum'],
                               pos_k=case['pos_k'], neg_k=case['neg_k'], rep_dim=case['C'])
        ref = mod.Sup_MCL_Loss(args).to(device)
        for i in range(2):
            setattr(ref.contrast, f'memory_{i}', getattr(ours, f'memory_{i}').to(device))
        split = 1 + case['pos_k']
        pos_idx, neg_idx = x['idx'][:, :split].to(device), x['idx'][:, split:].to(device)
    else:
        mod = _load(os.path.join(losses_dir, 'cifar_sup_mcl_loss.py'), 'cifar')
        args = SimpleNamespace(**vars(args), rep_dim=[case['C'], case['C']])
        ref = mod.Sup_MCL_Loss(args).to(device)
        # the pixels our module samples at its first step (the same generator state)
        picked, pixel_labels = ours._sample_pixel_positions(
            x['labels'].to(device), (case['h'], case['w']), ours._step_generator())
        h, w = case['h'], case['w']
        batch, yy, xx = picked // (h * w), picked // w % h, picked % w
    for i in range(2):
        ref.embed_list[i].proj_head.load_state_dict(ours.heads[i][0].state_dict())
    del ours

    def weighted(raw):
        return {k: WEIGHTS[k] * v for k, v in zip(TERMS, raw)}

    if case['form'] == 'memory':
        def run():
            return weighted(ref(list(x['feats']), pos_idx, neg_idx))

        return run, None

    def gather():
        return [f[batch, :, yy, xx] for f in x['feats']]

    def run():
        return weighted(ref(gather(), pixel_labels))

    def extra():
        with torch.no_grad():
            kl = ref.contrast.kl
            ref.contrast.kl = _diagonal_masked(kl)
            try:
                raw = ref(gather(), pixel_labels)
            finally:
                ref.contrast.kl = kl
        return dict(soft_vcl_nodiag=WEIGHTS['soft_vcl'] * float(raw[1]),
                    soft_icl_nodiag=WEIGHTS['soft_icl'] * float(raw[3]),
                    pixels=int(picked.numel()))

    return run, extra


# ------------------------------------------------------------------ worker


def _rss_kib(key):
    with open('/proc/self/status') as f:
        return int(re.search(rf'{key}:\s+(\d+)', f.read()).group(1))


def _reset_peak():
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def worker(spec):
    """Runs one (case, implementation) and prints a JSON line."""
    import torch
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    device = spec['device']

    def build(case, x, log):
        if spec['impl'] == 'ours':
            return build_ours(case, x, device, log)
        return build_reference(case, x, device, spec['reference'])

    # warm-up at the tiny case of the same form (first-use costs: code pages, thread pools)
    warm = CASES[WARMUP[CASES[spec['case']]['form']]]
    x = make_inputs(warm, device)
    sum(build(warm, x, [])[0]().values()).backward()
    del x
    case = CASES[spec['case']]
    x = make_inputs(case, device)
    sampling_log = []
    run, extra = build(case, x, sampling_log)
    cuda = device.startswith('cuda')
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        hwm = False
    else:
        hwm = _reset_peak()
        base = (_rss_kib('VmRSS') if hwm
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    times, cpu_times, sampling, faults, first = [], [], [], [], None
    for _ in range(spec['repeats']):
        for f in x['feats']:
            f.grad = None
        if cuda:
            torch.cuda.synchronize()
        n_log = len(sampling_log)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0, c0 = time.perf_counter(), time.process_time()
        values = run()
        total = sum(values.values())
        total.backward()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        sampling.append(sum(sampling_log[n_log:]))
        if first is None:
            first = {k: float(v) for k, v in values.items()}
        del values, total
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = (_rss_kib('VmHWM') if hwm
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024 - base
    checks = extra() if extra is not None else {}
    malloc_env = {k: os.environ.get(k) for k in NO_TRIM_ENV}
    print(json.dumps(dict(times=times, cpu_times=cpu_times, sampling=sampling, faults=faults,
                          malloc_env=malloc_env, peak=peak,
                          values=first, checks=checks, threads=torch.get_num_threads())))


# ------------------------------------------------------------------ main


def _fmt_values(values):
    return ' '.join(f'{k}={v:.7g}' for k, v in values.items())


def _row(case, impl, res):
    return (f'{case:<17}{impl:<13}{statistics.median(res["times"]):9.3f}'
            f'{statistics.median(res["cpu_times"]):9.3f}{res["peak"] / 2**20:10.1f}'
            f'{statistics.median(res["sampling"]):10.3f}'
            f'{statistics.median(res["faults"]):9.0f}  {_fmt_values(res["values"])}')


def _compare_round(case, results, records, rnd):
    """Prints and records the ours/ref line of one round -> ((time, cpu, memory) ratios, ok);
    the memory ratio is None where a peak is below 1 MiB (page noise)."""
    ours, ref = results['ours'], results['reference']
    if CASES[case]['form'] == 'memory':
        diffs, ok = compare(ours['values'], ref['values'])
        soft = ''
    else:
        checks = ref['checks']
        diffs, ok = compare(ours['values'], ref['values'], ['vcl', 'icl'])
        soft_diffs, soft_ok = compare(
            ours['values'], dict(soft_vcl=checks['soft_vcl_nodiag'],
                                 soft_icl=checks['soft_icl_nodiag']))
        diffs.update({f'{k}_nodiag': v for k, v in soft_diffs.items()})
        ok &= soft_ok
        kept, _ = compare(ours['values'], ref['values'], ['soft_vcl', 'soft_icl'])
        soft = (f'; {checks["pixels"]} pixels; ref soft, diagonal kept (not checked): '
                + ' '.join(f'{k} rel. diff {v:.1e}' for k, v in kept.items()))
    t_ratio = statistics.median(ours['times']) / statistics.median(ref['times'])
    c_ratio = statistics.median(ours['cpu_times']) / statistics.median(ref['cpu_times'])
    m_ratio = ours['peak'] / ref['peak'] if min(ours['peak'], ref['peak']) >= 2**20 else None
    records.append(dict(case=case, round=rnd, time_ratio=t_ratio, cpu_ratio=c_ratio,
                        memory_ratio=m_ratio, diffs=diffs, ok=ok))
    m_text = f'{m_ratio:10.3f}' if m_ratio is not None else f'{"n/a":>10}'
    print(f'{case:<17}{"ours/ref":<13}{t_ratio:9.3f}{c_ratio:9.3f}{m_text}{"":19}'
          f'  max rel. value diff {max(diffs.values()):.1e} '
          f'{"OK" if ok else "MISMATCH"}{soft}', flush=True)
    return (t_ratio, c_ratio, m_ratio), ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--cases', nargs='+', choices=list(CASES), default=list(DEFAULT_CASES))
    parser.add_argument('--reference', metavar='REPO_DIR',
                        help="folder with the authors' losses/ package")
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if any)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--rounds', type=int, default=1,
                        help='measure each implementation R times, alternating (ABBA); with '
                        '--reference the median of the rounds\' ratios is printed')
    parser.add_argument('--no-trim', action='store_true',
                        help='both workers run with glibc keeping the memory they free '
                        f'({", ".join(f"{k}={v}" for k, v in NO_TRIM_ENV.items())})')
    parser.add_argument('--json', metavar='PATH', help='write every result to PATH')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.rounds < 1:
        parser.error(f'--rounds must be >= 1, got {args.rounds}')

    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if args.reference and not os.path.isfile(
            os.path.join(args.reference, 'losses', 'imagenet_sup_mcl_loss.py')):
        parser.error(f'{args.reference}/losses/imagenet_sup_mcl_loss.py not found')
    impls = ['ours'] + (['reference'] if args.reference else [])
    load = os.getloadavg()
    print(f'device {device}, torch {torch.__version__}, threads '
          f'{args.threads or torch.get_num_threads()}, {args.repeats} repeats, load averages '
          f'{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; time: median wall seconds of forward + '
          'backward; cpu: median CPU seconds of the process; memory: peak increase in MiB'
          + ('' if device == 'cpu' else ' (CUDA allocated)')
          + "; sampling: median wall seconds of our module's own draws (included in time); "
          'faults: median minor page faults per pass'
          + ('; glibc keeps freed memory (--no-trim)' if args.no_trim else ''))
    if args.reference:
        print('memory cases: both get the same heads, memories and slots (ours still makes '
              'its own draw, timed, then uses the shared slots); pixel cases: the reference '
              'gets the features at the pixels our sampler draws (positions drawn in set-up), '
              'VCL and ICL checked; its soft terms keep the diagonal (a pixel against itself) '
              'and ours leave it out: checked against the reference with the diagonal masked')
    header = (f'{"case":<17}{"impl":<13}{"time":>9}{"cpu":>9}{"memory":>10}{"sampling":>10}'
              f'{"faults":>9}  values')
    print(header)
    print('-' * len(header))
    all_ok, records = True, []
    env = NO_TRIM_ENV if args.no_trim else None
    for case in args.cases:
        rounds = []  # (time, cpu, memory) ratios of each round
        for rnd in range(args.rounds):
            results = {}
            # alternate the order (ABBA): a drift of the machine's speed over the rounds
            # weighs on both implementations alike
            for impl in (impls if rnd % 2 == 0 else impls[::-1]):
                spec = dict(impl=impl, case=case, device=device, repeats=args.repeats,
                            threads=args.threads, reference=args.reference, round=rnd + 1,
                            no_trim=args.no_trim)
                res = results[impl] = run_worker(__file__, spec, env=env)
                records.append(dict(spec, **res))
                print(_row(case, impl if args.rounds == 1 else f'{impl} {rnd + 1}', res),
                      flush=True)
            if 'reference' not in results:
                continue
            ratios, ok = _compare_round(case, results, records, rnd + 1)
            all_ok &= ok
            rounds.append(ratios)
        if len(rounds) > 1:
            medians = [statistics.median(r[q] for r in rounds if r[q] is not None)
                       if any(r[q] is not None for r in rounds) else None for q in range(3)]
            records.append(dict(case=case, rounds=len(rounds), time_ratio=medians[0],
                                cpu_ratio=medians[1], memory_ratio=medians[2]))
            m_text = f'{medians[2]:10.3f}' if medians[2] is not None else f'{"n/a":>10}'
            print(f'{case:<17}{"median":<13}{medians[0]:9.3f}{medians[1]:9.3f}{m_text}'
                  f'  of {len(rounds)} rounds (time ratios '
                  f'{", ".join(f"{r[0]:.3f}" for r in rounds)})', flush=True)
    load = os.getloadavg()
    print(f'load averages at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(records, f, indent=1)
    if args.reference and not all_ok:
        sys.exit('values differ from the reference')


if __name__ == '__main__':
    main()

"""Time, CPU time and peak memory of the CIRKD losses (forward + backward), optionally against
the authors' implementation, optionally with competing processes on the cores.

    python tools/benchmark_cirkd.py [--repeats 3] [--shapes cityscapes small tiny]
        [--items stack pixel_kd cross_image memory] [--reference REPO_DIR] [--threads N]
        [--compete [P]] [--rounds R] [--alternate VAR] [--json PATH]

Shapes: ``cityscapes`` is DeepLabV3-R18 student / R101 teacher at 512x1024 crops
(B=2, student 128 channels, teacher 256 channels, 64x128 features, 19 classes, labels
512x1024, memory sizes 20000 / 2000, 4096 / 1024 negatives); ``small`` is the same at
32x64; ``tiny`` (8x16 features, 16 / 32 channels, 5 classes, small queues) is for smoke tests.
Items: ``stack`` (the three losses with the CIRKD weights 1, 1, 0.1, 0.1, one backward), and
each loss alone.

Every (shape, item, implementation) runs in a fresh subprocess, so peaks do not mix: the
peak memory is the increase of peak RSS (``ru_maxrss``) over the state after set-up (inputs
and modules built) on CPU, and of ``torch.cuda.max_memory_allocated`` on CUDA. Times are
the median of ``--repeats`` forward + backward passes: wall seconds and CPU seconds of the
process (all its threads, ``time.process_time``; more CPU than wall x threads means threads
spinning or waiting on each other). ``--threads N`` sets torch's CPU threads in the workers.

``--compete [P]`` (default P = 1): while each worker runs, P competing CPU-bound processes (a
pure-Python busy loop each) share the cores; their CPU seconds are printed, so one sees that
they ran. With ``OMP_WAIT_POLICY=PASSIVE`` in the environment idle OpenMP threads sleep
instead of spinning (recommended on a busy machine; the workers inherit the environment).

``--reference REPO_DIR``: a folder holding the authors' ``losses/`` package, e.g.

    mkdir -p /tmp/cirkd_ref
    git -C <CIRKD mirror> archive segv0.1 losses | tar -x -C /tmp/cirkd_ref

Its ``kd.py``, ``cirkd_mini_batch.py`` and ``cirkd_memory.py`` are run at the same shapes on
the same inputs. On CPU they are patched minimally: ``Tensor.cuda`` is a no-op,
``nn.SyncBatchNorm`` is ``nn.BatchNorm2d`` and the (non-distributed) all-gather is the
identity. The memory module gets the same queues and projection head as ours, and its
``torch.randperm`` draws from a copy of our module's generator; ours then runs with
``sample_within_class=False`` (the reference's pixel sampling), so all values must agree.

On CPU our float32 tiles use the fused C passes of ``mcl_mm/models/losses/native.py`` and
oneDNN's GEMM (the header says whether each is on); ``MCL_MM_NATIVE_KERNELS=0`` measures the
torch passes instead, ``MCL_MM_ONEDNN_GEMM=0`` ``torch.mm``.

``--rounds R`` measures each implementation R times, alternating the order (ours, reference,
reference, ours, ...), and prints the ratio of each round and their median: this machine's
speed drifts by 10-30% over minutes (measured: the memory loss alone took 2.4-3.6 s in four
runs within ten minutes), and the alternation gives the drift to both implementations alike.

``--alternate VAR`` (ours only) compares two settings of an environment switch that the
losses read at every call, ``MCL_MM_ONEDNN_GEMM`` or ``MCL_MM_NATIVE_KERNELS``, within one
process: after an untimed pass with each, its passes alternate between ``VAR=0`` and
``VAR=1`` (order 0 1 1 0 0 1 ...), so the machine's drift weighs on both; ``--repeats``
passes each, and the median of the paired ratios (1 over 0) is printed.

``--json PATH`` writes every result (times, CPU times, peaks, values, ratios) to PATH.
"""
import argparse
import gc
import importlib.util
import json
import os
import resource
import statistics
import sys
import time

# the tools folder, also when this file is loaded by path (tests)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark_common import compare, run_worker  # noqa: E402

MEMORY = dict(pixel_memory_size=20000, region_memory_size=2000, pixel_contrast_size=4096,
              region_contrast_size=1024)
SHAPES = dict(
    cityscapes=dict(B=2, Cs=128, Ct=256, h=64, w=128, K=19, stride=8, memory=MEMORY),
    small=dict(B=2, Cs=128, Ct=256, h=32, w=64, K=19, stride=8, memory=MEMORY),
    tiny=dict(B=2, Cs=16, Ct=32, h=8, w=16, K=5, stride=4,
              memory=dict(pixel_memory_size=64, region_memory_size=16, pixel_contrast_size=40,
                          region_contrast_size=10)))
ITEMS = ('stack', 'pixel_kd', 'cross_image', 'memory')
# environment switches the losses read at every call (--alternate)
ALTERNATE = ('MCL_MM_ONEDNN_GEMM', 'MCL_MM_NATIVE_KERNELS')
WEIGHTS = dict(pixel_kd=1.0, cross_image=1.0, memory_pixel=0.1, memory_region=0.1)
# the warm-up pass (first-use costs: code pages, thread pools) before the measurements
WARMUP_SHAPE = dict(B=2, Cs=128, Ct=256, h=8, w=8, K=19, stride=8)
WARMUP_MEMORY = dict(pixel_memory_size=64, region_memory_size=16, pixel_contrast_size=64,
                     region_contrast_size=32)


def make_inputs(shape, device):
    import torch
    g = torch.Generator().manual_seed(0)
    B, K, h, w, s = shape['B'], shape['K'], shape['h'], shape['w'], shape['stride']
    preds_S = torch.randn(B, K, h, w, generator=g)
    preds_T = torch.randn(B, K, h, w, generator=g)
    feat_S = torch.randn(B, shape['Cs'], h, w, generator=g)
    feat_T = torch.randn(B, shape['Ct'], h, w, generator=g)
    labels = torch.randint(0, K, (B, h * s, w * s), generator=g)
    labels[torch.rand(labels.shape, generator=g) < 0.1] = 255
    out = dict(preds_S=preds_S, preds_T=preds_T, feat_S=feat_S, feat_T=feat_T, labels=labels)
    out = {k: v.to(device) for k, v in out.items()}
    out['preds_S'].requires_grad_(True)
    out['feat_S'].requires_grad_(True)
    return out


def _our_memory(module, x):
    out = module(x['feat_S'], x['feat_T'], x['labels'])
    return out['pixel'], out['region']


def _reference_memory(module, x):
    return module(x['feat_S'], x['feat_T'], x['labels'], x['preds_S'].detach().argmax(1))


def _runner(losses, memory):
    """``run(x) -> values`` for the losses built; ``memory(module, x)`` calls a memory loss
    (ours and the reference's take different arguments) and returns (pixel, region)."""
    def run(x):
        values = {}
        if 'pixel_kd' in losses:
            values['pixel_kd'] = losses['pixel_kd'](x['preds_S'], x['preds_T'])
        if 'cross_image' in losses:
            values['cross_image'] = losses['cross_image'](x['feat_S'], x['feat_T'])
        if 'memory' in losses:
            values['memory_pixel'], values['memory_region'] = memory(losses['memory'], x)
        return values

    return run


def build_ours(item, shape, memory, device, reference_sampling):
    import torch

    from mcl_mm.models.losses import CIRKDMemoryLoss, CrossImagePixelLoss, PixelKDLoss
    losses = {}
    if item in ('stack', 'pixel_kd'):
        losses['pixel_kd'] = PixelKDLoss(temperature=1.0)
    if item in ('stack', 'cross_image'):
        losses['cross_image'] = CrossImagePixelLoss(temperature=0.1)
    if item in ('stack', 'memory'):
        torch.manual_seed(0)  # the projection head's initialisation
        losses['memory'] = CIRKDMemoryLoss(
            shape['K'], shape['Cs'], shape['Ct'], **memory, contrast_temperature=0.1,
            sample_within_class=not reference_sampling, pixel_weight=1.0,
            region_weight=1.0).to(device)
    return _runner(losses, _our_memory)


def _load(path, name):
    spec = importlib.util.spec_from_file_location(f'cirkd_reference_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_RANDPERM_GENERATOR = []


def _patch_reference_runtime(device):
    """CPU shims for the reference (once per process): ``Tensor.cuda`` is a no-op and
    ``nn.SyncBatchNorm`` is ``nn.BatchNorm2d``; ``torch.randperm`` draws from the generator
    last put in ``_RANDPERM_GENERATOR``."""
    import torch
    from torch import nn
    if _RANDPERM_GENERATOR:
        return
    _RANDPERM_GENERATOR.append(None)
    if device == 'cpu':
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
        nn.SyncBatchNorm = nn.BatchNorm2d
    randperm = torch.randperm
    torch.randperm = lambda n, *args, **kwargs: randperm(n, generator=_RANDPERM_GENERATOR[-1])


def build_reference(item, shape, memory, device, repo_dir):
    import torch
    _patch_reference_runtime(device)
    losses_dir = os.path.join(repo_dir, 'losses')
    losses = {}
    if item in ('stack', 'pixel_kd'):
        losses['pixel_kd'] = _load(os.path.join(losses_dir, 'kd.py'), 'kd').CriterionKD(1.0)
    if item in ('stack', 'cross_image'):
        mb = _load(os.path.join(losses_dir, 'cirkd_mini_batch.py'), 'mini_batch')
        losses['cross_image'] = mb.CriterionMiniBatchCrossImagePair(0.1)
    if item in ('stack', 'memory'):
        from mcl_mm.models.losses import CIRKDMemoryLoss
        mem = _load(os.path.join(losses_dir, 'cirkd_memory.py'), 'memory')
        K = shape['K']
        # built with 1-slot queues, then given our module's queues (no copy), head and
        # generator, so both start from the same state
        ref = mem.StudentSegContrast(
            K, 1, 1, memory['region_contrast_size'] // K + 1,
            memory['pixel_contrast_size'] // K + 1, 1.0, 0.1, shape['Cs'], shape['Ct'], 255)
        torch.manual_seed(0)  # the projection head's initialisation, as in build_ours
        ours = CIRKDMemoryLoss(K, shape['Cs'], shape['Ct'], **memory)
        ref.project_head.load_state_dict(ours.project_head.state_dict())
        ref.teacher_pixel_queue = ours.pixel_queue
        ref.teacher_segment_queue = ours.region_queue
        ref.pixel_memory_size = memory['pixel_memory_size']
        ref.region_memory_size = memory['region_memory_size']
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            ref.concat_all_gather = lambda tensor: tensor
        generator = torch.Generator()
        generator.set_state(ours.generator.get_state())
        _RANDPERM_GENERATOR.append(generator)
        del ours
        losses['memory'] = ref.to(device)

    return _runner(losses, _reference_memory)


def worker(spec):
    """Runs one (shape, item, implementation) and prints a JSON line."""
    import torch
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    device = spec['device']

    def build(shape, memory):
        if spec['impl'] == 'ours':
            return build_ours(spec['item'], shape, memory, device, spec['reference_sampling'])
        return build_reference(spec['item'], shape, memory, device, spec['reference'])

    # warm-up at a tiny shape, so that first-use costs stay out of the peak
    x = make_inputs(WARMUP_SHAPE, device)
    sum(WEIGHTS[k] * v for k, v in build(WARMUP_SHAPE, WARMUP_MEMORY)(x).items()).backward()
    shape = SHAPES[spec['shape']]
    x = make_inputs(shape, device)
    run = build(shape, shape['memory'])
    cuda = device.startswith('cuda')
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    variable = spec.get('alternate')
    settings = ('0', '1') if variable else (None, )

    def step(setting):
        """One forward + backward with ``variable=setting`` -> (values, wall s, CPU s)."""
        if variable:
            os.environ[variable] = setting
        x['preds_S'].grad = x['feat_S'].grad = None
        if cuda:
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        values = run(x)
        sum(WEIGHTS[k] * v for k, v in values.items()).backward()
        if cuda:
            torch.cuda.synchronize()
        return values, time.perf_counter() - t0, time.process_time() - c0

    for setting in settings if variable else ():  # an untimed pass with each setting first
        step(setting)
    times, cpu_times, first = {v: [] for v in settings}, {v: [] for v in settings}, None
    for rep in range(spec['repeats']):
        for setting in settings if rep % 2 == 0 else settings[::-1]:
            values, wall, cpu = step(setting)
            times[setting].append(wall)
            cpu_times[setting].append(cpu)
            if first is None:
                first = {k: v.item() for k, v in values.items()}
            del values
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    on = settings[-1]  # '1', or None without --alternate
    result = dict(times=times[on], cpu_times=cpu_times[on])
    if variable:
        result.update(times_off=times['0'], cpu_times_off=cpu_times['0'])
    print(json.dumps(dict(result, peak=peak, values=first, threads=torch.get_num_threads())))


def alternate(args, device):
    """--alternate VAR: per (shape, item), one worker alternating VAR=0 and VAR=1."""
    import torch
    var = args.alternate
    print(f'device {device}, threads {args.threads or torch.get_num_threads()}, '
          f'{args.repeats} passes with {var}=0 and with {var}=1, alternating in one process, '
          f'load average {os.getloadavg()[0]:.2f}; time: wall seconds of forward + backward')
    records = []
    for shape in args.shapes:
        for item in args.items:
            spec = dict(impl='ours', item=item, shape=shape, device=device,
                        repeats=args.repeats, threads=args.threads, reference=None,
                        reference_sampling=False, alternate=var)
            res = run_worker(__file__, spec, args.compete)
            ratio = statistics.median(on / off for on, off in zip(res['times'],
                                                                  res['times_off']))
            records.append(dict(spec, **res, ratio=ratio))
            print(f'{shape} {item}: {var}=0 ' + ', '.join(f'{t:.3f}' for t in res['times_off'])
                  + f' s; {var}=1 ' + ', '.join(f'{t:.3f}' for t in res['times']) + ' s')
            print(f'{shape} {item}: median ratio {var}=1 / {var}=0 {ratio:.3f} '
                  f'(of {len(res["times"])} pairs)', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(records, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--shapes', nargs='+', choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument('--items', nargs='+', choices=ITEMS, default=list(ITEMS))
    parser.add_argument('--reference', metavar='REPO_DIR',
                        help="folder with the authors' losses/ package")
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if any)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--compete', type=int, nargs='?', const=1, default=0, metavar='P',
                        help='P competing busy-loop processes while each worker runs')
    parser.add_argument('--rounds', type=int, default=1,
                        help='measure each implementation R times, alternating (ABBA); with '
                        '--reference the median of the rounds\' ratios is printed')
    parser.add_argument('--alternate', metavar='VAR', choices=ALTERNATE,
                        help='ours only: alternate the passes between VAR=0 and VAR=1 in one '
                        'process and print the median ratio of the paired times (1 over 0)')
    parser.add_argument('--json', metavar='PATH', help='write every result to PATH')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.rounds < 1:
        parser.error(f'--rounds must be >= 1, got {args.rounds}')
    if args.alternate and (args.reference or args.rounds > 1):
        parser.error('--alternate compares two settings of ours in one process: it takes '
                     'neither --reference nor --rounds')

    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if args.alternate:
        return alternate(args, device)
    impls = ['ours'] + (['reference'] if args.reference else [])
    print(f'device {device}, torch {torch.__version__}, threads '
          f'{args.threads or torch.get_num_threads()}, {args.repeats} repeats, load average '
          f'{os.getloadavg()[0]:.2f}, {args.compete} competing processes; time: median wall '
          'seconds of forward + backward; cpu: median CPU seconds of the process; memory: '
          'peak increase in MiB' + ('' if device == 'cpu' else ' (CUDA allocated)'))
    if device == 'cpu':  # built here (once, cached), so the workers only load it
        from mcl_mm.models.losses import native
        print('fused C tile passes (mcl_mm/models/losses/native.py): ' + (
            'on' if native.kernels() is not None else
            'off (MCL_MM_NATIVE_KERNELS=0 or no C compiler): torch operations'))
        print('their GEMMs: ' + ('oneDNN' if native.onednn_gemm() else
                                 'torch.mm (MCL_MM_ONEDNN_GEMM=0 or no oneDNN op)'))
    if args.reference:
        print('ours runs with sample_within_class=False (the reference pixel sampling), so '
              'values can agree')
    header = (f'{"shape":<11}{"item":<12}{"impl":<13}{"time":>9}{"cpu":>9}{"memory":>10}'
              '  values')
    print(header)
    print('-' * len(header))
    all_ok, records = True, []
    for shape in args.shapes:
        for item in args.items:
            rounds = []  # (time, cpu, memory) ratios of each round
            for rnd in range(args.rounds):
                results = {}
                # alternate the order (ABBA): a drift of the machine's speed over the rounds
                # weighs on both implementations alike
                for impl in (impls if rnd % 2 == 0 else impls[::-1]):
                    spec = dict(impl=impl, item=item, shape=shape, device=device,
                                repeats=args.repeats, threads=args.threads,
                                reference=args.reference,
                                reference_sampling=bool(args.reference), round=rnd + 1)
                    res = results[impl] = run_worker(__file__, spec, args.compete)
                    records.append(dict(spec, **res))
                    values = ' '.join(f'{k}={v:.7g}' for k, v in res['values'].items())
                    competing = (f'  (competitors used {sum(res["competitor_cpu"]):.1f} CPU s)'
                                 if args.compete else '')
                    label = impl if args.rounds == 1 else f'{impl} {rnd + 1}'
                    print(f'{shape:<11}{item:<12}{label:<13}'
                          f'{statistics.median(res["times"]):9.3f}'
                          f'{statistics.median(res["cpu_times"]):9.3f}'
                          f'{res["peak"] / 2**20:10.1f}  {values}{competing}', flush=True)
                if 'reference' not in results:
                    continue
                ours, ref = results['ours'], results['reference']
                diffs, ok = compare(ours['values'], ref['values'])
                all_ok &= ok
                t_ratio = statistics.median(ours['times']) / statistics.median(ref['times'])
                m_ratio = ours['peak'] / max(ref['peak'], 1)
                c_ratio = (statistics.median(ours['cpu_times'])
                           / statistics.median(ref['cpu_times']))
                rounds.append((t_ratio, c_ratio, m_ratio))
                records.append(dict(shape=shape, item=item, round=rnd + 1, time_ratio=t_ratio,
                                    cpu_ratio=c_ratio, memory_ratio=m_ratio, diffs=diffs))
                print(f'{"":<11}{item:<12}{"ours/ref":<13}{t_ratio:9.3f}{c_ratio:9.3f}'
                      f'{m_ratio:10.3f}  '
                      f'max rel. value diff {max(diffs.values()):.1e} '
                      f'{"OK" if ok else "MISMATCH"}', flush=True)
            if len(rounds) > 1:
                medians = [statistics.median(r[q] for r in rounds) for q in range(3)]
                records.append(dict(shape=shape, item=item, rounds=len(rounds),
                                    time_ratio=medians[0], cpu_ratio=medians[1],
                                    memory_ratio=medians[2]))
                print(f'{"":<11}{item:<12}{"median":<13}{medians[0]:9.3f}{medians[1]:9.3f}'
                      f'{medians[2]:10.3f}  of {len(rounds)} rounds (time ratios '
                      f'{", ".join(f"{r[0]:.3f}" for r in rounds)})', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(records, f, indent=1)
    if args.reference and not all_ok:
        sys.exit('values differ from the reference')


if __name__ == '__main__':
    main()

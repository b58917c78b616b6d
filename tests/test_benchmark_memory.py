"""tools/benchmark_memory.py: the sampling hook and the summary on made-up series, the config
edits, and one tiny real run."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import run_tool

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location(
        'benchmark_memory', REPO / 'tools' / 'benchmark_memory.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _series(rss, tensors=None, trimmed=None, every=25):
    out = []
    for i, r in enumerate(rss):
        s = dict(iter=i * every, rss=r, peak=max(rss[:i + 1]))
        if trimmed is not None:
            s['trimmed'] = trimmed[i]
        if tensors is not None:
            s.update(tensors=tensors[i], objects=1000)
        out.append(s)
    return out


def test_flat_series_is_flat(bench):
    # start-up growth before the warm-up sample, then +-0.3 MiB allocator noise
    rss = [500.0, 800.0, 860.0] + [860.0 + 0.3 * (-1) ** i for i in range(18)]
    summary = bench.summarize(_series(rss, [400] * len(rss)), warmup=50)
    assert summary['warmup_iter'] == 50 and summary['end_iter'] == 500
    assert summary['rss_warmup'] == 860.0 and summary['rss_start'] == 500.0
    assert summary['basis'] == 'rss' and abs(summary['rss_slope']) < 0.1
    assert summary['tensors_slope'] == 0
    assert bench.verdict(summary) == 'FLAT'
    text = bench.format_summary(summary)
    assert 'verdict: FLAT' in text and 'end of warm-up (iter 50)' in text


def test_growing_series_is_growing(bench):
    # 5 MiB per 100 iterations after warm-up
    rss = [500.0, 800.0] + [860.0 + 5.0 * 25 * i / 100 for i in range(19)]
    summary = bench.summarize(_series(rss), warmup=50)
    assert summary['rss_slope'] == pytest.approx(5.0)
    assert summary['rss_per_100'] == pytest.approx(5.0)
    assert summary['rss_growth'] == pytest.approx(5.0 * 450 / 100)
    assert bench.verdict(summary).startswith('GROWING (5.00 MiB/100 it')
    assert 'tensors_slope' not in summary  # no counts sampled


def test_verdict_reads_the_trimmed_series(bench):
    # raw RSS swinging with the allocator (+-25 MiB, drifting up), trimmed RSS flat
    n = 21
    rss = [800.0 + 25 * (i % 3) + i for i in range(n)]
    summary = bench.summarize(_series(rss, trimmed=[700.0] * n), warmup=50)
    assert summary['basis'] == 'trimmed' and summary['rss_slope'] > 1
    assert bench.verdict(summary) == 'FLAT'
    assert 'trimmed RSS slope' in bench.format_summary(summary)
    growing = bench.summarize(_series(rss, trimmed=[700.0 + 0.5 * i for i in range(n)]),
                              warmup=50)
    assert bench.verdict(growing) == 'GROWING (2.00 MiB/100 it)'


def test_tensor_growth_alone_is_growing(bench):
    # RSS flat but one tensor kept alive per iteration
    n = 21
    summary = bench.summarize(_series([860.0] * n, [400 + 25 * i for i in range(n)]),
                              warmup=50)
    assert summary['tensors_slope'] == pytest.approx(100.0)
    assert bench.verdict(summary) == 'GROWING (100.0 tensors/100 it)'


def test_slope(bench):
    assert bench.slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert bench.slope([5], [1]) == 0.0
    assert bench.slope([3, 3], [1, 2]) == 0.0


def test_sampler_hook_samples_at_every_warmup_and_end(bench, capsys):
    """Samples at the warm-up and every ``every`` iterations; each sees what happened: 64 MiB
    kept alive between two samples raise RSS by about that much and the live tensor count by
    one (the data batch is not counted)."""
    hook = bench.MemorySampler(every=10, extra=(15, ), count_tensors=True, trim=True)
    runner = SimpleNamespace(iter=0, max_iters=32)
    hook.before_train(runner)
    batch = dict(inputs=[torch.zeros(3, 4, 4)], data_samples=[])
    kept = []
    for it in range(32):
        runner.iter = it
        if it == 12:  # between the samples of iterations 10 and 15
            kept.append(torch.ones(16 * 2**20))  # 64 MiB, written
        hook.after_train_iter(runner, it, data_batch=batch)
    assert [s['iter'] for s in hook.samples] == [0, 10, 15, 20, 30, 32]
    at = {s['iter']: s for s in hook.samples}
    assert 56 < at[15]['rss'] - at[10]['rss'] < 80, (at[10]['rss'], at[15]['rss'])
    assert at[15]['tensors'] == at[10]['tensors'] + 1
    assert at[15]['peak'] >= at[15]['rss'] and at[15]['trimmed'] > 0
    assert at[32]['tensors'] == at[15]['tensors']  # nothing else kept
    del kept
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 6


def test_batch_tensors_are_not_counted(bench):
    from mmengine.structures import BaseDataElement, PixelData
    sample = BaseDataElement(gt=PixelData(data=torch.zeros(1, 2, 2)), label=torch.ones(1))
    batch = dict(inputs=[torch.zeros(3, 2, 2), torch.zeros(3, 2, 2)], data_samples=[sample])
    assert len(bench.batch_tensor_ids(batch)) == 4
    with_batch = bench.count_objects()['tensors']
    without = bench.count_objects(bench.batch_tensor_ids(batch))['tensors']
    assert with_batch - without == 4


def test_message_hub_history(bench):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('test_benchmark_memory')
    for _ in range(10):
        hub.update_scalar('train/loss', 1.0)
        hub.update_scalar('train/lr', 0.1)
    text = bench.message_hub_history(SimpleNamespace(message_hub=hub, iter=10))
    assert text.startswith('2 scalar histories, 20 entries, 0.3 KiB')


def test_prepare_config_epoch_based(bench):
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / 'configs/mcl/resnet18x2_synthetic-imagenet.py'))
    notes = []
    cfg = bench.prepare_config(cfg, 30, notes)
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=30, val_interval=31)
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert cfg.param_scheduler is None  # its cosine schedule is by epoch
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.interval == 31 and not checkpoint.save_last
    assert cfg.train_dataloader.num_workers == 0
    assert cfg.train_dataloader.sampler == dict(type='InfiniteSampler', shuffle=True, seed=None)
    assert bench.guess_format(cfg) == 'imagenet'
    assert any('CosineAnnealingLR' in n for n in notes)


def test_cifar_config_reads_the_synthetic_set(bench):
    """mmpretrain's CIFAR100 refuses the synthetic pickles: a synthetic run swaps in
    mcl_mm.SyntheticCIFAR100; a given --data-root keeps the stock type."""
    from mmengine.config import Config
    path = str(REPO / 'configs/mcl/resnet32x2_300e_cifar100.py')
    cfg = Config.fromfile(path)
    assert bench.guess_format(cfg) == 'cifar100'
    notes = []
    bench.set_data_root(cfg, '/data/synthetic', synthetic=True, notes=notes)
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'mcl_mm.SyntheticCIFAR100' and dataset.data_root == '/data/synthetic'
    assert notes == ['dataset type CIFAR100 -> mcl_mm.SyntheticCIFAR100 (reads the synthetic '
                     'set)']
    assert bench.guess_format(cfg) == 'cifar100'
    cfg = Config.fromfile(path)
    bench.set_data_root(cfg, '/data/cifar100')
    assert cfg.train_dataloader.dataset.type == 'CIFAR100'


def test_prepare_config_distiller_gets_random_teacher(bench):
    from mmengine.config import Config
    cfg = Config.fromfile(
        str(REPO / 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'))
    cfg = bench.prepare_config(cfg, 30, [])
    assert [s.type for s in cfg.param_scheduler] == ['PolyLR']  # iteration-based: kept
    cfg.model.teacher_ckpt = '/nonexistent/teacher.pth'
    notes = []
    bench.check_teacher(cfg, notes)
    assert cfg.model.teacher_ckpt is None and cfg.model.random_teacher is True
    assert notes == ["teacher checkpoint '/nonexistent/teacher.pth' not found: random teacher"]
    notes.clear()
    bench.check_teacher(cfg, notes)  # as after --cfg-options model.teacher_ckpt=None ...
    assert notes == ['random teacher']
    assert bench.guess_format(cfg) == 'cityscapes'


@pytest.mark.slow
def test_real_run_prints_table():
    out = run_tool('tools/benchmark_memory.py', 'configs/mcl/resnet18x2_synthetic-imagenet.py',
                   '--iters', '12', '--warmup', '4', '--every', '4', '--cfg-options',
                   'train_dataloader.batch_size=4', timeout=300)
    assert 'iter   RSS MiB  peak MiB   trimmed  tensors   objects' in out
    table = out[out.index('resident memory ('):]
    iters = [int(line.split()[0]) for line in table.splitlines()[2:]
             if line.strip() and line.split()[0].isdigit()]
    assert iters == [0, 4, 8, 12]
    assert 'end of warm-up (iter 4)' in out and 'least-squares slope' in out
    assert 'verdict: ' in out and 'wall time' in out and 'message hub history' in out

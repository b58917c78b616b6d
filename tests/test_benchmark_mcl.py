"""tools/benchmark_mcl.py: the value comparison flags a mismatch, and the tiny case runs (without
the authors' code, which is not in the repository)."""
import importlib.util
import json
import math
from pathlib import Path

import pytest
from conftest import run_tool

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark_mcl',
                                                  REPO / 'tools' / 'benchmark_mcl.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_flags_mismatch(bench):
    ref = dict(vcl=0.5, soft_vcl=30.0, icl=0.4, soft_icl=20.0)
    diffs, ok = bench.compare(dict(ref), ref)
    assert ok and max(diffs.values()) == 0
    # relative to max(1, |ref|): 3e-4 on 30 is 1e-5, at the tolerance; 3.1e-4 is beyond it
    assert bench.compare(dict(ref, soft_vcl=30.0003), ref)[1]
    diffs, ok = bench.compare(dict(ref, soft_vcl=30.00031), ref)
    assert not ok and diffs['soft_vcl'] > bench.TOLERANCE
    assert not bench.compare(dict(ref, vcl=0.5 + 2e-5), ref)[1]  # absolute below 1
    assert not bench.compare(dict(ref, icl=math.nan), ref)[1]  # NaN never agrees
    assert not bench.compare({}, ref)[1]  # a missing term neither
    # only the keys asked for are checked (the pixel cases' soft terms differ by definition)
    assert bench.compare(dict(ref, soft_icl=25.0), ref, ['vcl', 'icl'])[1]


def test_shared_slots_follow_the_reference_draw(bench):
    """Memory form: [own, pos_k same-class slots other than the own, neg_k of other classes]."""
    case = bench.CASES['tiny']
    x = bench.make_inputs(case, 'cpu')
    idx, slot_labels = x['idx'], x['slot_labels']
    pos_k = case['pos_k']
    assert idx.shape == (case['B'], 1 + pos_k + case['neg_k'])
    assert (idx[:, 0] == x['sample_idx']).all()
    own_class = slot_labels[idx[:, :1]]
    assert (slot_labels[idx[:, 1:1 + pos_k]] == own_class).all()
    assert (idx[:, 1:1 + pos_k] != idx[:, :1]).all()
    assert (slot_labels[idx[:, 1 + pos_k:]] != own_class).all()


def test_round_ratios_and_value_check(bench, capsys):
    """One round's line: medians' ratios, the pixel form's checks (VCL, ICL, the soft terms
    against the reference with the diagonal masked), a memory ratio only above 1 MiB."""
    values = dict(vcl=1.0, soft_vcl=2.0, icl=3.0, soft_icl=4.0)
    ours = dict(times=[1.0, 2.0, 9.0], cpu_times=[2.0, 4.0, 4.0], peak=3 * 2**20, values=values)
    ref = dict(times=[4.0, 4.0, 1.0], cpu_times=[8.0, 8.0, 8.0], peak=6 * 2**20,
               values=dict(values, soft_vcl=2.5),
               checks=dict(soft_vcl_nodiag=2.0, soft_icl_nodiag=4.0, pixels=7))
    records = []
    (t, c, m), ok = bench._compare_round('tiny-pixel', dict(ours=ours, reference=ref),
                                         records, 3)
    assert ok and (t, c, m) == (0.5, 0.5, 0.5)
    assert records[0]['round'] == 3 and records[0]['time_ratio'] == 0.5
    out = capsys.readouterr().out
    assert 'OK; 7 pixels' in out and 'soft_vcl rel. diff 2.0e-01' in out  # kept, not checked
    bad = dict(ref, checks=dict(ref['checks'], soft_icl_nodiag=4.1))
    assert not bench._compare_round('tiny-pixel', dict(ours=ours, reference=bad), [], 1)[1]
    small = dict(ours, peak=2**19)
    (_, _, m), ok = bench._compare_round('tiny', dict(ours=small, reference=dict(
        ref, values=values)), [], 1)
    assert ok and m is None and 'n/a' in capsys.readouterr().out


@pytest.mark.slow
def test_tiny_case_runs(tmp_path, bench):
    out = tmp_path / 'mcl.json'
    text = run_tool('tools/benchmark_mcl.py', '--cases', 'tiny', 'tiny-pixel', '--repeats', '2',
                    '--threads', '1', '--device', 'cpu', '--json', str(out), '--no-trim',
                    env=dict(PYTHONWARNINGS='ignore'), timeout=600)
    assert 'glibc keeps freed memory (--no-trim)' in text
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 7 and fields[1] == 'ours':
            rows[fields[0]] = fields
    assert set(rows) == {'tiny', 'tiny-pixel'}, text
    for fields in rows.values():
        time_s, cpu_s, mib, sampling, faults = map(float, fields[2:7])
        assert time_s > 0 and cpu_s > 0 and mib >= 0 and 0 <= sampling <= time_s
        assert faults >= 0 and faults == int(faults)
        values = dict(f.split('=') for f in fields[7:])
        assert set(values) == {'vcl', 'soft_vcl', 'icl', 'soft_icl'}
        assert all(math.isfinite(float(v)) for v in values.values())
    records = json.loads(out.read_text())
    assert [(r['case'], r['impl']) for r in records] == [('tiny', 'ours'), ('tiny-pixel', 'ours')]
    for r in records:
        assert len(r['times']) == len(r['cpu_times']) == len(r['sampling']) == 2
        assert len(r['faults']) == 2 and r['no_trim'] and r['round'] == 1
        assert r['malloc_env'] == bench.NO_TRIM_ENV  # the worker ran with them
        assert r['threads'] == 1 and r['peak'] >= 0
        assert set(r['values']) == {'vcl', 'soft_vcl', 'icl', 'soft_icl'}
        # the row prints the first pass's values
        assert float(dict(f.split('=') for f in rows[r['case']][7:])['vcl']) == \
            pytest.approx(r['values']['vcl'], rel=1e-6)

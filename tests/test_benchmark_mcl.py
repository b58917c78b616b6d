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


@pytest.mark.slow
def test_tiny_case_runs(tmp_path):
    out = tmp_path / 'mcl.json'
    text = run_tool('tools/benchmark_mcl.py', '--cases', 'tiny', 'tiny-pixel', '--repeats', '2',
                    '--threads', '1', '--device', 'cpu', '--json', str(out),
                    env=dict(PYTHONWARNINGS='ignore'), timeout=600)
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[1] == 'ours':
            rows[fields[0]] = fields
    assert set(rows) == {'tiny', 'tiny-pixel'}, text
    for fields in rows.values():
        time_s, cpu_s, mib, sampling = map(float, fields[2:6])
        assert time_s > 0 and cpu_s > 0 and mib >= 0 and 0 <= sampling <= time_s
        values = dict(f.split('=') for f in fields[6:])
        assert set(values) == {'vcl', 'soft_vcl', 'icl', 'soft_icl'}
        assert all(math.isfinite(float(v)) for v in values.values())
    records = json.loads(out.read_text())
    assert [(r['case'], r['impl']) for r in records] == [('tiny', 'ours'), ('tiny-pixel', 'ours')]
    for r in records:
        assert len(r['times']) == len(r['cpu_times']) == len(r['sampling']) == 2
        assert r['threads'] == 1 and r['peak'] >= 0
        assert set(r['values']) == {'vcl', 'soft_vcl', 'icl', 'soft_icl'}
        # the row prints the first pass's values
        assert float(dict(f.split('=') for f in rows[r['case']][6:])['vcl']) == \
            pytest.approx(r['values']['vcl'], rel=1e-6)

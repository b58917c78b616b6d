"""tools/check_gpu.py, the CUDA check, runs here as far as a machine without a GPU allows: its
loss table on the CPU against itself (every case builds, runs and back-propagates in fp32 and
under bf16 autocast), its log parsing, and the refusal without CUDA."""
import importlib.util
import subprocess
import sys

import pytest
import torch
from conftest import REPO

spec = importlib.util.spec_from_file_location('check_gpu', REPO / 'tools' / 'check_gpu.py')
check_gpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_gpu)


def test_every_loss_case_runs_and_compares(capsys, one_thread):
    # the "device" is the CPU here; fp16 autocast on CPU is compared too
    assert check_gpu.check_losses('cpu', check_gpu._inputs(h=8, w=16))
    table = capsys.readouterr().out
    for name in check_gpu._cases():
        assert table.count(name) == 3, name


def test_a_wrong_loss_fails_the_check(monkeypatch, one_thread):
    cases = check_gpu._cases()
    build, run = cases['PixelKDLoss']
    calls = []

    def skewed(loss, x):  # the second run (the "device") is off by 1 %
        value, leaves = run(loss, x)
        calls.append(1)
        return value * (1.01 if len(calls) > 1 else 1.), leaves
    monkeypatch.setattr(check_gpu, '_cases', lambda: {'PixelKDLoss': (build, skewed)})
    assert not check_gpu.check_losses('cpu', check_gpu._inputs(h=8, w=16))


def test_log_parsing():
    log = '\n'.join(
        f'11/30 12:00:{k:02d} - mmengine - INFO - Iter(train) [ {k}/20]  lr: 1e-2  eta: 0:00:10  '
        f'time: {0.5 + k / 100:.4f}  data_time: 0.01  memory: {1000 + k}  loss: 1.0'
        for k in range(1, 21))
    t, mem = check_gpu.parse_log(log)
    assert t == pytest.approx(0.5 + 13 / 100) and mem == 1020
    with pytest.raises(ValueError, match='no training iteration'):
        check_gpu.parse_log('nothing')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal without CUDA')
def test_without_cuda_it_says_so():
    proc = subprocess.run([sys.executable, 'tools/check_gpu.py'], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and 'no CUDA device' in proc.stdout

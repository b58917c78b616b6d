"""A run killed with SIGKILL at any moment, also while a checkpoint is being written, resumes
with ``--resume`` and ends exactly where an uninterrupted run ends."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO, run_tool

from mcl_mm.engine.checkpoint import PARTIAL_SUFFIX

CIRKD_CFG = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'


def _opts(data):
    return ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}'
                               for s in ('train', 'val', 'test')],
            'model.teacher_ckpt=None', 'model.random_teacher=True', 'train_cfg.max_iters=6',
            'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1',
            'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
            'randomness.deterministic=True', 'randomness.seed=0']


def _start(work, data, resume):
    cmd = [sys.executable, 'tools/train.py', CIRKD_CFG, '--work-dir', str(work),
           *(['--resume'] if resume else []), *_opts(data)]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _partials(work):
    return [p for p in work.iterdir() if p.name.endswith(PARTIAL_SUFFIX)] if work.exists() \
        else []


def _kill_while_saving(proc, work, timeout=300.):
    """SIGKILL ``proc`` as soon as a checkpoint write is in progress (its temporary file
    exists); True if it was caught writing."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if _partials(work):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0005)
    proc.kill()
    proc.wait()
    return False


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(
        synthetic_data, tmp_path):
    data = synthetic_data('cityscapes')
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    run_tool('tools/train.py', CIRKD_CFG, '--work-dir', str(whole), *_opts(data))

    rng = random.Random(0)
    caught = 0
    for attempt in range(4):
        proc = _start(killed, data, resume=attempt > 0)
        if attempt % 2 == 0:  # while a checkpoint is being written
            caught += _kill_while_saving(proc, killed)
        else:  # at a random moment
            time.sleep(rng.uniform(3., 9.))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert caught >= 1, 'no kill happened during a checkpoint write'
    log = run_tool('tools/train.py', CIRKD_CFG, '--work-dir', str(killed), '--resume',
                   *_opts(data))
    assert 'Auto resumed' in log or 'resumed' in log.lower()
    assert not _partials(killed), 'leftovers of the interrupted writes were not removed'
    a = torch.load(whole / 'iter_6.pth', weights_only=True)['state_dict']
    b = torch.load(killed / 'iter_6.pth', weights_only=True)['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key
    assert (killed / 'last_checkpoint').read_text().strip() == str(killed / 'iter_6.pth')
    assert os.path.getsize(killed / 'iter_6.pth') > 0

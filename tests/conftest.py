import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the fused CIRKD kernels (mcl_mm/models/losses/native.py) are compiled into this process's own
# temporary folder (inherited by the tools the tests run), never into the user's ~/.cache
os.environ['MCL_MM_KERNEL_DIR'] = tempfile.mkdtemp(prefix='mcl_mm_kernels_')
atexit.register(shutil.rmtree, os.environ['MCL_MM_KERNEL_DIR'], ignore_errors=True)
_EXECUTED = []


def pytest_runtest_logreport(report):
    if report.when == 'call':
        _EXECUTED.append(report.outcome)


def pytest_sessionfinish(session, exitstatus):
    """A run in which every collected test was skipped ran no test: exit 5, as pytest does
    when it collects none (tools/run_tests.sh turns 5 into a failure)."""
    if exitstatus == 0 and not _EXECUTED:
        session.exitstatus = 5


@pytest.fixture(autouse=True)
def _own_default_scope():
    """Every test starts with the default scope it would have alone: a test that sets one
    (``init_default_scope('mmseg')``, a Runner) leaves no scope behind for the next test of
    the same worker, in which an unprefixed ``MODELS.build(dict(type='PixelKDLoss'))`` would
    then be looked up in mmseg's registry."""
    from mmengine.registry import DefaultScope
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:
        del DefaultScope._instance_dict[name]


@pytest.fixture
def one_thread():
    """Tests on small tensors: one thread avoids OpenMP overhead (and contention)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory):
    """``synthetic_data(fmt, **kw)`` -> path of a synthetic data set, made once per session."""
    from mcl_mm.testing.synthetic_data import FORMATS
    made = {}
    root = tmp_path_factory.mktemp('synthetic')

    def make(fmt, num_train=8, num_val=4, size=None, seed=0):
        key = (fmt, num_train, num_val, size, seed)
        if key not in made:
            out = root / f'{fmt}_{len(made)}'
            FORMATS[fmt](str(out), num_train=num_train, num_val=num_val, size=size, seed=seed)
            made[key] = out
        return made[key]

    return make


def run_tool(*args, timeout=900, env=None):
    """Run ``python tools/<args>`` (or ``bash tools/<x>.sh``) from the repository root."""
    cmd = ['bash', *args] if args[0].endswith('.sh') else [sys.executable, *args]
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, cmd))} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}')
    return proc.stdout + proc.stderr

"""mcl_mm through MIM, as OpenMMLab packages are driven: ``mim train``, ``mim test`` and
``mim run`` find mcl_mm's configs and tools inside the package (``mcl_mm/.mim``), from the
editable install and from a wheel installed into a virtual environment of this test's own;
``mcl_mm::`` names config bases."""
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO

CONFIG = 'deeplabv3-r18_synthetic-cityscapes.py'  # found by name in the package's configs


def _mim(python, *args, cwd, timeout=900):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    proc = subprocess.run([str(python), '-m', 'mim', *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def _train_and_test(python, data, work, cwd):
    roots = [f'{s}_dataloader.dataset.data_root={data}' for s in ('train', 'val', 'test')]
    log = _mim(python, 'train', 'mcl_mm', CONFIG, '--work-dir', str(work), '--cfg-options',
               *roots, 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'default_hooks.checkpoint.interval=2', cwd=cwd)
    assert 'Training finished successfully' in log and (work / 'iter_2.pth').exists()
    log = _mim(python, 'test', 'mcl_mm', CONFIG, '--checkpoint', str(work / 'iter_2.pth'),
               '--work-dir', str(work / 'test'), '--cfg-options', roots[2], cwd=cwd)
    assert 'mIoU:' in log
    return log


@pytest.mark.slow
def test_mim_train_test_run_from_the_editable_install(synthetic_data, tmp_path):
    data = synthetic_data('cityscapes')
    log = _train_and_test(sys.executable, data, tmp_path / 'work', cwd=tmp_path)
    assert 'mcl_mm/.mim/tools/test.py' in log  # the package's own tools
    _mim(sys.executable, 'run', 'mcl_mm', 'make_synthetic_data', 'voc',
         str(tmp_path / 'voc'), '--num-train', '2', '--num-val', '1', cwd=tmp_path)
    assert (tmp_path / 'voc' / 'VOC2012' / 'ImageSets' / 'Segmentation' / 'val.txt').exists()
    # a user's config names mcl_mm's bases as it names mmseg's
    user = tmp_path / 'user.py'
    user.write_text("_base_ = ['mcl_mm::_base_/mcl_mm_runtime.py']\n")
    from mmengine.config import Config
    assert Config.fromfile(str(user)).runner_type == 'mcl_mm.Runner'


@pytest.mark.slow
def test_wheel_ships_configs_and_tools_and_mim_trains_from_it(synthetic_data, tmp_path):
    """A wheel built from the sources holds configs and tools under mcl_mm/.mim; installed
    into a fresh virtual environment (which sees the rest of the stack), ``mim train`` runs
    from it, not from the repository."""
    src = tmp_path / 'src'
    files = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        if (REPO / name).is_symlink():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(REPO / name), src / name)
        elif (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-w', str(tmp_path / 'dist'), str(src)], check=True, capture_output=True)
    wheel = next((tmp_path / 'dist').glob('mcl_mm-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ('mcl_mm/.mim/tools/train.py', 'mcl_mm/.mim/tools/test.py',
                 'mcl_mm/.mim/configs/_base_/mcl_mm_runtime.py',
                 f'mcl_mm/.mim/configs/baselines/{CONFIG}',
                 'mcl_mm/models/losses/relation_tiles.c'):  # compiled on first use
        assert name in names, name
    assert sum(n.startswith('mcl_mm/.mim/configs/') for n in names) == \
        sum(1 for n in files if n.startswith('configs/') and n.endswith(('.py', '.md')))

    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip',
                    str(venv)], check=True)
    python = venv / 'bin' / 'python'
    subprocess.run([str(python), '-m', 'pip', 'install', '--no-deps', '--no-index', str(wheel)],
                   check=True, capture_output=True)
    where = subprocess.run([str(python), '-c', 'import mcl_mm; print(mcl_mm.__file__)'],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(venv)), where
    log = _train_and_test(python, synthetic_data('cityscapes'), tmp_path / 'work', cwd=tmp_path)
    # mim ran the test tool of the installed wheel, not the repository's
    command = log.split('Testing command is')[1][:400]
    assert str(venv) in command and str(REPO) not in command

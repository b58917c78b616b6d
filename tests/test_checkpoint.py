"""mmengine checkpoints load with torch's weights_only loader; other pickled objects do not.
Checkpoints are written atomically; --resume names a bad checkpoint."""
import os
import pickle
import stat

import numpy as np
import pytest
import torch
from conftest import run_tool
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import save_checkpoint

import mcl_mm  # noqa: F401  installs the allow-list


def _mmengine_like_checkpoint():
    hub = MessageHub.get_instance('test_checkpoint')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('iter', 3)
    return dict(meta=dict(iter=3, seed=np.int64(7), dataset_meta=dict(
        classes=('a', 'b'), skeleton=np.zeros((0, 2), dtype=np.int64))),
                state_dict={'w': torch.ones(2)}, message_hub=hub.state_dict())


class _NotAllowed:
    pass


class _SneakyGetattr:
    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(_mmengine_like_checkpoint(), path)
    ckpt = torch.load(path, weights_only=True)
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.mean() == pytest.approx(1.0)
    assert ckpt['meta']['seed'] == 7


@pytest.mark.parametrize('obj', [_NotAllowed(), _SneakyGetattr(), np.array([object()])])
def test_other_pickled_objects_are_refused(tmp_path, obj):
    path = tmp_path / 'bad.pth'
    torch.save(dict(state_dict={}, extra=obj), path)
    with pytest.raises((pickle.UnpicklingError, TypeError)):
        torch.load(path, weights_only=True)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    """mmengine's save_checkpoint goes through the atomic backend: a write that fails midway
    leaves the previous file whole and no temporary file behind."""
    path = tmp_path / 'iter_1.pth'
    save_checkpoint(_mmengine_like_checkpoint(), str(path))
    before = path.read_bytes()
    assert type(get_file_backend(str(path))).__name__ == 'AtomicLocalBackend'

    def crash(fd):
        raise OSError('disk full')
    monkeypatch.setattr('os.fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint(dict(state_dict={'w': torch.zeros(1000)}), str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_1.pth']


@pytest.mark.parametrize('damage', ['truncate', 'pickled_object'])
def test_resume_names_a_bad_checkpoint(tmp_path, damage):
    """tools/train.py --resume with a truncated (or disallowed) last checkpoint and nothing
    older to fall back on fails at once with the file's name, before building anything."""
    work = tmp_path / 'work'
    work.mkdir()
    ckpt = work / 'iter_4.pth'
    if damage == 'truncate':
        torch.save(_mmengine_like_checkpoint(), ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:200])
        expected = f'{ckpt}, named by last_checkpoint, is unusable: it cannot be read'
    else:
        torch.save(dict(state_dict={}, extra=_NotAllowed()), ckpt)
        expected = f'--resume: checkpoint {ckpt} (named by last_checkpoint): it holds pickled ' \
            'objects that are not allowed'
    (work / 'last_checkpoint').write_text(str(ckpt))
    with pytest.raises(AssertionError) as err:
        run_tool('tools/train.py', 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py',
                 '--work-dir', str(work), '--resume', timeout=300)
    assert expected in str(err.value)


def _work_dir(tmp_path, names):
    work = tmp_path / 'work'
    work.mkdir()
    for k, name in enumerate(names):
        torch.save(_mmengine_like_checkpoint(), work / name)
        os.utime(work / name, (1000 + k, 1000 + k))
    return work


def test_resume_skips_what_a_kill_left_behind(tmp_path):
    """An empty last_checkpoint, or one naming a truncated or missing file: --resume takes
    the newest checkpoint of the work dir that loads, and says so."""
    from mcl_mm.engine.checkpoint import resolve_resume_checkpoint
    work = _work_dir(tmp_path, ['iter_2.pth', 'iter_4.pth', 'iter_6.pth', 'best_mIoU.pth'])
    said = []
    pointer = work / 'last_checkpoint'
    pointer.write_text('')  # killed between the truncation and the write
    assert resolve_resume_checkpoint(str(work), log=said.append) == str(work / 'iter_6.pth')
    assert 'last_checkpoint is empty' in said[-1] and 'iter_6.pth' in said[-1]
    (work / 'iter_6.pth').write_bytes((work / 'iter_6.pth').read_bytes()[:300])  # truncated
    pointer.write_text(str(work / 'iter_6.pth'))
    assert resolve_resume_checkpoint(str(work), log=said.append) == str(work / 'iter_4.pth')
    assert 'skipping' in said[-2] and 'is unusable' in said[-1]
    pointer.write_text(str(work / 'iter_8.pth'))  # named, never written
    assert resolve_resume_checkpoint(str(work), log=said.append) == str(work / 'iter_4.pth')
    assert 'does not exist' in said[-1]
    pointer.write_text(str(work / 'iter_2.pth'))  # a good pointer is followed as it is
    assert resolve_resume_checkpoint(str(work), log=said.append) == str(work / 'iter_2.pth')
    assert resolve_resume_checkpoint(str(tmp_path / 'empty'), log=said.append) is None
    with pytest.raises(RuntimeError, match='load_from'):
        resolve_resume_checkpoint(str(work), str(work / 'iter_6.pth'))


def test_checkpoints_keep_the_umask_mode_and_leftovers_are_removed(tmp_path):
    """A checkpoint gets the mode a plain write gives (not mkstemp's 0600); the temporary file
    of a write a kill interrupted is removed by the next process's first write."""
    from mcl_mm.engine import checkpoint
    old = os.umask(0o022)
    try:
        save_checkpoint(_mmengine_like_checkpoint(), str(tmp_path / 'iter_1.pth'))
        assert stat.S_IMODE((tmp_path / 'iter_1.pth').stat().st_mode) == 0o644
        os.chmod(tmp_path / 'iter_1.pth', 0o640)  # an existing file keeps its mode
        save_checkpoint(_mmengine_like_checkpoint(), str(tmp_path / 'iter_1.pth'))
        assert stat.S_IMODE((tmp_path / 'iter_1.pth').stat().st_mode) == 0o640
    finally:
        os.umask(old)
    leftover = tmp_path / f'.iter_2.pth.abcd1234{checkpoint.PARTIAL_SUFFIX}'
    leftover.write_bytes(b'half a checkpoint')
    os.utime(leftover, (1000, 1000))  # older than this process
    assert checkpoint.remove_partial_writes(str(tmp_path)) == [leftover.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_1.pth']


def test_last_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    """mmengine's checkpoint hook rewrites last_checkpoint with open(path, 'w'); through
    mcl_mm a failure while writing leaves the previous content whole."""
    from mmengine.hooks import checkpoint_hook
    path = tmp_path / 'last_checkpoint'
    with checkpoint_hook.open(str(path), 'w') as f:
        f.write('/work/iter_2.pth')

    def crash(fd):
        raise OSError('killed')
    monkeypatch.setattr('os.fsync', crash)
    with pytest.raises(OSError, match='killed'):
        with checkpoint_hook.open(str(path), 'w') as f:
            f.write('/work/iter_4.pth')
    assert path.read_text() == '/work/iter_2.pth'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last_checkpoint']


COHORT = 'configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py'
MEMBER = 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py'


def _stock_checkpoint(path):
    """A stock DeepLabV3 checkpoint of the cohort's member config, saved the stock way."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    from conftest import REPO
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(str(REPO / MEMBER)).model)
    model.init_weights()
    save_checkpoint(model.state_dict(), str(path))
    return model.state_dict()


@pytest.mark.slow
def test_load_from_a_stock_checkpoint_into_a_cohort_is_refused(tmp_path):
    """load_from = a stock model's checkpoint would load nothing into a cohort (keys
    members.k.*): an error says to give it to the members' init_cfg; that way member 0 starts
    from it exactly."""
    from mmengine.config import Config
    from conftest import REPO

    from mcl_mm.engine.runner import Runner
    stock = _stock_checkpoint(tmp_path / 'stock.pth')
    cfg = Config.fromfile(str(REPO / COHORT))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = str(tmp_path / 'stock.pth')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r"model\.members\[0\]\.init_cfg=dict\(type='Pretrained'"
                                         r".*model\.members\[1\]\.init_cfg"):
        runner.load_or_resume()
    from mcl_mm.engine.checkpoint import check_load_from_fits
    with pytest.raises(ValueError, match="shares no key with MCLCohort .* like 'model.x'"):
        check_load_from_fits(runner.model, {'model.x': None}, 'other.pth')
    # the cohort's own checkpoint loads (as for a finished run or --resume)
    save_checkpoint(runner.model.state_dict(), str(tmp_path / 'cohort.pth'))
    cfg.load_from = str(tmp_path / 'cohort.pth')
    Runner.from_cfg(cfg).load_or_resume()
    # the way the error gives: member 0 from the stock checkpoint
    cfg.load_from = None
    cfg.model.members[0].init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'stock.pth'))
    runner = Runner.from_cfg(cfg)
    runner._init_model_weights()
    member = runner.model.members[0].state_dict()
    for key, value in stock.items():
        assert torch.equal(member[key], value), key

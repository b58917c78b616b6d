"""mmengine checkpoints load with torch's weights_only loader; other pickled objects do not.
Checkpoints are written atomically; --resume names a bad checkpoint."""
import pickle

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
    """tools/train.py --resume with a truncated (or disallowed) last checkpoint fails at once
    with the file's name, before building anything."""
    work = tmp_path / 'work'
    work.mkdir()
    ckpt = work / 'iter_4.pth'
    if damage == 'truncate':
        torch.save(_mmengine_like_checkpoint(), ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:200])
        expected = 'cannot be read'
    else:
        torch.save(dict(state_dict={}, extra=_NotAllowed()), ckpt)
        expected = 'pickled objects that are not allowed'
    (work / 'last_checkpoint').write_text(str(ckpt))
    with pytest.raises(AssertionError) as err:
        run_tool('tools/train.py', 'configs/baselines/deeplabv3_r18_synthetic-cityscapes.py',
                 '--work-dir', str(work), '--resume', timeout=300)
    assert f'--resume: checkpoint {ckpt}' in str(err.value) and expected in str(err.value)

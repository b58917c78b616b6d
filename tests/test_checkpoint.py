"""mmengine checkpoints load with torch's weights_only loader; other pickled objects do not."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mcl_mm  # noqa: F401  installs the allow-list


def _mmengine_like_checkpoint():
    hub = MessageHub.get_instance('test_checkpoint')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('iter', 3)
    return dict(meta=dict(iter=3, seed=np.int64(7), dataset_meta=dict(classes=('a', 'b'))),
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

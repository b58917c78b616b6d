"""Save the random number generators' states in checkpoints and restore them on ``--resume``."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mcl_mm.registry import HOOKS


def get_rng_state() -> dict:
    """The states of Python's, numpy's and torch's global generators, as tensors and ints
    (types that ``torch.load(weights_only=True)`` reads)."""
    version, py_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(version=version, state=torch.tensor(py_state, dtype=torch.int64),
                    gauss=gauss),
        numpy=dict(name=name, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` returned."""
    py = state['python']
    random.setstate((py['version'], tuple(py['state'].tolist()), py['gauss']))
    npy = state['numpy']
    np.random.set_state((npy['name'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _SkipFirst:
    """An iterator that answers its first ``n`` ``next()`` calls with ``None`` without asking
    ``iterator``, then hands on to it."""

    def __init__(self, iterator, n: int):
        self.iterator, self.n = iterator, n

    def __iter__(self):
        return self

    def __next__(self):
        if self.n > 0:
            self.n -= 1
            return None
        return next(self.iterator)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Makes ``--resume`` continue the random streams of the interrupted run.

    mmengine 0.10.7 re-seeds every generator at start and does not save their states, so a
    resumed run draws different dropout masks, augmentations and so on than the run it
    continues. This hook writes the states of Python's, numpy's, torch's (and CUDA's) global
    generators into every checkpoint (``checkpoint['rng_state']``) and restores them when
    training resumes, at the point where the interrupted run stood:

    * epoch-based loops resume at an epoch start: the states are restored in ``before_train``;
    * the iteration-based loop re-reads the batches it already trained on to advance its data
      iterator (``IterBasedTrainLoop.run``), which draws augmentation randomness again. The hook
      does that advance itself in ``before_train_epoch``, restores the states after it, and
      lets the loop's own advance skip through without loading anything.

    Generators owned by modules (e.g. :class:`~mcl_mm.models.losses.CIRKDMemoryLoss`) travel
    with the state dict. Exact resume also needs ``randomness=dict(seed=..., deterministic=True)``
    and, on GPU, deterministic kernels. With ``num_workers > 0`` the workers' generators are
    re-created from the seed when the data iterator is, which the advance replays.
    """
    priority = 'VERY_LOW'

    def __init__(self):
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # only a resume restores the states: ``load_from`` starts a new run
        if runner._resume and 'rng_state' in checkpoint:
            self._pending = checkpoint['rng_state']

    def before_train(self, runner) -> None:
        if self._pending is not None and not _is_iter_based(runner):
            set_rng_state(self._pending)
            self._pending = None

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        for _ in range(loop.iter):
            next(loop.dataloader_iterator)
        set_rng_state(self._pending)
        self._pending = None
        loop.dataloader_iterator = _SkipFirst(loop.dataloader_iterator, loop.iter)


def _is_iter_based(runner) -> bool:
    return hasattr(runner.train_loop, 'dataloader_iterator')

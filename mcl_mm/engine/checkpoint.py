"""Safe checkpoint loading for mmengine 0.10.7 under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without the argument, so its own checkpoints are refused: the
``message_hub`` entry pickles :class:`mmengine.logging.HistoryBuffer` objects that hold
numpy arrays. Rather than turning ``weights_only`` off (which would run arbitrary code
from a checkpoint), we add exactly the types mmengine writes to torch's allow-list.
Anything else pickled into a checkpoint is still refused by torch.

Checkpoints are also written atomically (:class:`AtomicLocalBackend`), and ``--resume`` checks
that the checkpoint it resumes from loads (:func:`check_resume_checkpoint`).
"""
import os
import pickle
import tempfile

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.fileio.io import backend_instances
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import find_latest_checkpoint


def _numpy_types() -> list:
    """The numpy callables a pickled ``np.ndarray`` / numpy scalar refers to."""
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core to np._core
    types = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes (np.dtypes.Float64DType)
    # (object arrays are left out: they would pickle arbitrary Python objects)
    types += [type(np.dtype(t)) for t in np.sctypeDict.values() if np.dtype(t).kind != 'O']
    return list(dict.fromkeys(types))


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``getattr`` while unpickling: a HistoryBuffer pickles its statistics
    methods as ``getattr(HistoryBuffer, 'mean')``; nothing else may be looked up."""
    if obj is HistoryBuffer and not name.startswith('_') and callable(
            vars(HistoryBuffer).get(name)):
        return getattr(obj, name)
    raise TypeError(f'checkpoint asks for getattr({obj!r}, {name!r}); only the public '
                    'methods of HistoryBuffer are allowed')


MMENGINE_CHECKPOINT_TYPES = [
    HistoryBuffer,
    *_numpy_types(),
    bytes,  # an empty numpy array (e.g. in dataset metainfo) pickles its data as bytes()
    (_history_buffer_getattr, '__builtin__.getattr'),  # pickle protocol 2 spelling
    (_history_buffer_getattr, 'builtins.getattr'),
]


def allow_mmengine_checkpoint_types() -> None:
    """Let ``torch.load(weights_only=True)`` read checkpoints written by mmengine.

    Idempotent; called when :mod:`mcl_mm` is imported.
    """
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_TYPES)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, but ``put``/``put_text`` never leave a half-written file:
    they write a temporary file next to the target, flush it to disk and rename it over the
    target (``os.replace`` is atomic on POSIX and Windows). A run killed while saving keeps the
    previous checkpoint (and ``last_checkpoint``) intact."""

    def put(self, obj: bytes, filepath) -> None:
        self._atomic_write(filepath, obj, 'wb')

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self._atomic_write(filepath, obj.encode(encoding), 'wb')

    @staticmethod
    def _atomic_write(filepath, data: bytes, mode: str) -> None:
        filepath = os.fspath(filepath)
        folder = os.path.dirname(filepath) or '.'
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(filepath)}.', dir=folder)
        try:
            with os.fdopen(fd, mode) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


def use_atomic_local_writes() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths (checkpoints,
    ``last_checkpoint``). Idempotent; called when :mod:`mcl_mm` is imported."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # drop cached instances of the stock local backend
    for key in [k for k, v in backend_instances.items() if type(v) is LocalBackend]:
        del backend_instances[key]


def check_resume_checkpoint(cfg) -> None:
    """Before ``--resume``: the checkpoint it would resume from must load, else a clear error
    that names the file (instead of a zip-reader error deep in torch once training starts)."""
    if not cfg.get('resume'):
        return
    path = cfg.get('load_from') or (cfg.get('work_dir') and find_latest_checkpoint(cfg.work_dir))
    if not path or not os.path.isfile(path):
        return
    try:
        torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise RuntimeError(
            f'--resume: checkpoint {path} holds pickled objects that are not allowed (only '
            f'tensors, containers and the types mmengine writes are loaded): {e}') from e
    except Exception as e:
        raise RuntimeError(
            f'--resume: checkpoint {path} cannot be read ({type(e).__name__}: {e}). It is '
            'truncated or corrupt. Resume from an earlier checkpoint with --resume '
            '--cfg-options load_from=PATH, or delete it.') from e

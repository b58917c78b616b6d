"""Safe checkpoint loading for mmengine 0.10.7 under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without the argument, so its own checkpoints are refused: the
``message_hub`` entry pickles :class:`mmengine.logging.HistoryBuffer` objects that hold
numpy arrays. Rather than turning ``weights_only`` off (which would run arbitrary code
from a checkpoint), we add exactly the types mmengine writes to torch's allow-list.
Anything else pickled into a checkpoint is still refused by torch.
"""
import numpy as np
import torch
from mmengine.logging import HistoryBuffer


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
    (_history_buffer_getattr, '__builtin__.getattr'),  # pickle protocol 2 spelling
    (_history_buffer_getattr, 'builtins.getattr'),
]


def allow_mmengine_checkpoint_types() -> None:
    """Let ``torch.load(weights_only=True)`` read checkpoints written by mmengine.

    Idempotent; called when :mod:`mcl_mm` is imported.
    """
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_TYPES)

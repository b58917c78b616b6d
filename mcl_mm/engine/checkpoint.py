"""Safe checkpoint loading for mmengine 0.10.7 under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without the argument, so its own checkpoints are refused: the
``message_hub`` entry pickles :class:`mmengine.logging.HistoryBuffer` objects that hold
numpy arrays. Rather than turning ``weights_only`` off (which would run arbitrary code
from a checkpoint), we add exactly the types mmengine writes to torch's allow-list.
Anything else pickled into a checkpoint is still refused by torch.

Checkpoints and ``last_checkpoint`` are also written atomically (:func:`atomic_write`), with the
mode a plain write gives; leftovers of writes a kill interrupted are removed
(:func:`remove_partial_writes`), and ``--resume`` resumes from a checkpoint that loads
(:func:`resolve_resume_checkpoint`).
"""
import builtins
import io
import os
import pickle
import re
import stat
import tempfile
import time
from typing import Callable, List, Optional

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.fileio.io import backend_instances
from mmengine.hooks import checkpoint_hook
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
    bytes,  # an empty numpy array (e.g. in dataset metainfo) pickles its data as bytes()
    (_history_buffer_getattr, '__builtin__.getattr'),  # pickle protocol 2 spelling
    (_history_buffer_getattr, 'builtins.getattr'),
]


def allow_mmengine_checkpoint_types() -> None:
    """Let ``torch.load(weights_only=True)`` read checkpoints written by mmengine.

    Idempotent; called when :mod:`mcl_mm` is imported.
    """
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_TYPES)


# suffix of the temporary file of a write in progress: a process killed while writing leaves
# one behind, which the next run removes (remove_partial_writes)
PARTIAL_SUFFIX = '.mcl_mm-partial'
_STARTED = time.time()  # partial files older than this process are leftovers of killed runs
_CLEANED: set = set()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_partial_writes(folder, older_than: Optional[float] = None) -> List[str]:
    """Delete the temporary files that killed writes left in ``folder`` (those older than
    ``older_than``, default: the start of this process); returns their names."""
    older_than = _STARTED if older_than is None else older_than
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith('.') and entry.name.endswith(PARTIAL_SUFFIX):
            try:
                if entry.stat().st_mtime < older_than:
                    os.remove(entry.path)
                    removed.append(entry.name)
            except OSError:
                pass
    return removed


def atomic_write(filepath, data: bytes) -> None:
    """Write ``data`` to ``filepath`` so that no reader ever sees a half-written file: a
    temporary file next to the target, flushed to disk, then renamed over it (``os.replace``
    is atomic). The file gets the mode a plain ``open(filepath, 'wb')`` gives: the existing
    file's, or ``0o666`` less the umask (not ``mkstemp``'s ``0o600``), so colleagues on a
    shared cluster can read checkpoints as usual. Leftovers of killed writes in the folder are
    removed on the first write of a process."""
    filepath = os.fspath(filepath)
    folder = os.path.dirname(filepath) or '.'
    os.makedirs(folder, exist_ok=True)
    if folder not in _CLEANED:
        remove_partial_writes(folder)
        _CLEANED.add(folder)
    try:
        mode = stat.S_IMODE(os.stat(filepath).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(filepath)}.', suffix=PARTIAL_SUFFIX,
                               dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, but ``put``/``put_text`` write through
    :func:`atomic_write`: a run killed while saving keeps the previous checkpoint intact."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))


class _AtomicTextFile(io.StringIO):
    """``open(path, 'w')`` whose text reaches ``path`` only whole, at ``close``."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def __exit__(self, exc_type, *args):
        if exc_type is None:
            atomic_write(self.path, self.getvalue().encode('utf-8'))
        return super().__exit__(exc_type, *args)


def _open_last_checkpoint_atomically(file, mode='r', *args, **kwargs):
    """``open`` for mmengine's checkpoint hook: its ``last_checkpoint`` write (``with
    open(path, 'w') as f: f.write(...)``, which a kill between the truncation and the write
    would leave empty) goes through :func:`atomic_write`; every other call is ``open``."""
    if 'w' in mode and os.path.basename(os.fspath(file)) == 'last_checkpoint' and not args \
            and not kwargs:
        return _AtomicTextFile(file)
    return builtins.open(file, mode, *args, **kwargs)


def use_atomic_local_writes() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths (checkpoints), and
    mmengine's checkpoint hook write ``last_checkpoint`` atomically. Idempotent; called when
    :mod:`mcl_mm` is imported."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # drop cached instances of the stock local backend
    for key in [k for k, v in backend_instances.items() if type(v) is LocalBackend]:
        del backend_instances[key]
    checkpoint_hook.open = _open_last_checkpoint_atomically  # the hook's module-level `open`


_CKPT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def checkpoint_problem(path: str) -> Optional[str]:
    """None if ``path`` is a checkpoint that loads, else what is wrong with it. Cheap: the
    tensors are memory-mapped, not read (a truncated file fails at its zip directory)."""
    try:
        torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except pickle.UnpicklingError as e:
        return (f'it holds pickled objects that are not allowed (only tensors, containers and '
                f'the types mmengine writes are loaded): {e}')
    except Exception as e:
        return f'it cannot be read ({type(e).__name__}: {e}): it is truncated or corrupt'
    return None


def resolve_resume_checkpoint(work_dir: str, load_from: Optional[str] = None,
                              log: Callable[[str], None] = print) -> Optional[str]:
    """The checkpoint ``--resume`` resumes from, checked to load.

    ``load_from`` (given with ``--resume``) must load, else a RuntimeError names it. Otherwise
    the work dir's ``last_checkpoint`` is followed; when it is empty or unreadable (a run
    killed while writing it), or names a checkpoint that is missing or truncated, the newest
    ``iter_N.pth`` / ``epoch_N.pth`` of the work dir that loads is used instead, and ``log``
    says so. None when the work dir has no checkpoint at all (a fresh start). A checkpoint
    with disallowed pickled objects is never skipped over: it is an error.
    """
    def check(path, what):
        problem = checkpoint_problem(path)
        if problem is not None:
            raise RuntimeError(f'--resume: checkpoint {path} ({what}): {problem}. Resume from '
                               'an earlier checkpoint with --resume --cfg-options '
                               'load_from=PATH, or delete it.')
        return path

    if load_from:
        if not os.path.isfile(load_from):
            raise FileNotFoundError(f'--resume: load_from={load_from} does not exist')
        return check(load_from, 'load_from')
    pointer = os.path.join(work_dir, 'last_checkpoint')
    named, why = None, 'there is no last_checkpoint'
    if os.path.exists(pointer):
        try:
            with open(pointer) as f:
                named = f.read().strip() or None
            why = 'last_checkpoint is empty (a run killed while writing it?)'
        except OSError as e:
            why = f'last_checkpoint cannot be read ({e})'
    if named and os.path.isfile(named):
        problem = checkpoint_problem(named)
        if problem is None or 'not allowed' in problem:
            return check(named, 'named by last_checkpoint')
        why = f'{named}, named by last_checkpoint, is unusable: {problem}'
    elif named:
        why = f'{named}, named by last_checkpoint, does not exist'
    candidates = []
    for entry in os.scandir(work_dir) if os.path.isdir(work_dir) else ():
        match = _CKPT_NAME.match(entry.name)
        if match and entry.is_file():
            candidates.append((int(match.group(1)), entry.stat().st_mtime, entry.path))
    for _, _, path in sorted(candidates, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            log(f'--resume: {why}; resuming from the newest complete checkpoint {path}')
            return path
        if 'not allowed' in problem:
            return check(path, 'the newest checkpoint of the work dir')
        log(f'--resume: skipping {path}: {problem}')
    if candidates:
        raise RuntimeError(f'--resume: {why}, and no checkpoint of {work_dir} loads (tried '
                           f'{[os.path.basename(p) for _, _, p in sorted(candidates)]}); start '
                           'again without --resume, or give --cfg-options load_from=PATH')
    return None


def check_load_from_fits(model, state_dict: dict, filename: str) -> None:
    """``load_from`` into a composite (CIRKD distiller, cohort) whose keys it does not hold.

    MMEngine loads ``load_from`` non-strictly: a stock model's checkpoint given to a composite
    (keys ``backbone.*`` where the composite has ``student.backbone.*`` or
    ``members.k.backbone.*``) loads nothing, a warning lists every key, and training starts from
    the initialisation. When no key of the checkpoint is the composite's but some part takes it
    whole, this is a ValueError that says how to start that part from it (and one that says so
    when no key matches at all); a composite's own checkpoint (``--resume``, a finished run)
    passes.
    """
    model = getattr(model, 'module', model)
    if not hasattr(model, 'stock_parts'):
        return
    keys = {re.sub(r'^module\.', '', k) for k in state_dict}
    if not keys or keys & set(model.state_dict()):
        return
    parts = [name for name, _, _ in model.stock_parts()]
    fits = [key for _, key, part in model.stock_parts() if keys & set(part.state_dict())]
    if not fits:
        raise ValueError(
            f'load_from={filename!r} shares no key with {type(model).__name__} (its stock '
            f'models are {parts}; the file\'s keys are like {sorted(keys)[0]!r}): it would '
            'load nothing')
    keys_hint = ', '.join(f"{key}.init_cfg=dict(type='Pretrained', checkpoint={filename!r})"
                          for key in fits)
    raise ValueError(
        f'load_from={filename!r} holds a stock model\'s weights (keys like '
        f'{sorted(keys)[0]!r}), and no key of {type(model).__name__} (its stock models are '
        f'{parts}): it would load nothing. To train a model from it, set {keys_hint} (for the '
        'models it is meant for) and leave load_from unset; to test it, use it with its own '
        'config')

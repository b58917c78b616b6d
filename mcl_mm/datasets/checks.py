"""Find bad data before a run uses it: missing roots, unreadable files, labels out of range.

Two levels:

* :func:`check_data_roots` / :func:`find_data_root_problems` look at a *config* (no data set
  is built): every ``data_root``, ``ann_file`` and ``data_prefix`` folder of the train / val /
  test data sets must exist, and an mmseg data set listed from its image folder must find
  images there. The stock data sets fail on these with messages that name neither the config
  key nor the path (``need at least one array to concatenate`` for an empty folder), so the
  tools call this before they build the Runner; the error names the config key
  (``train_dataloader.dataset.data_root``) and the path.
* :class:`DatasetScan` (:func:`check_dataset` for one process) scans a *built* data set and
  returns one :class:`DataProblem` per bad file, naming the file and what was expected. Two
  steps:

  1. every sample, cheaply (a ``stat`` per file, no decoding; about 1-2 s per 100 000 samples
     on a local disk): each ``img_path`` (and an mmseg ``seg_map_path``) must exist (symbolic
     links followed), be a regular file this process may read and not be empty;
     classification labels (``gt_label``, e.g. mmpretrain's ``ImageNet``) must be in
     ``0..K-1``. The same step hashes the data set into a *fingerprint*: its classes and
     lengths, each sample's paths and listed label, each file's size and modification time,
     the number of classes and the decoding and label-mapping settings;
  2. a bounded, evenly spread sample of ``max_decode`` samples (all with ``None``) is decoded
     as the pipeline decodes it:

     - every ``img_path`` must decode with ``mmcv.imfrombytes`` as the pipeline's
       ``LoadImageFromFile`` does (its ``color_type``, ``imdecode_backend``, ``backend_args``);
     - mmseg (``BaseSegDataset``): every ``seg_map_path`` must decode as mmseg's
       ``LoadAnnotations`` does, be single-channel 8-bit, have its image's size, and, after
       ``reduce_zero_label`` and the data set's ``label_map`` (class subsets, CamVid's void ->
       255), hold only class indices ``0..K-1`` and the data set's ``ignore_index``.

     With a ``record_dir``, the outcome of step 2 is written there as ``<fingerprint>.json``;
     a later scan with the same fingerprint (``--resume``, a restart) reads it instead of
     decoding again, and any change to the data set (a file listed, added, removed, rewritten
     or touched; other classes or settings) changes the fingerprint, so the decode runs again.

  ``K`` is the number of classes of the data set's ``metainfo``, or fewer where the model's
  heads have fewer (``num_classes``). CIFAR's in-memory arrays (mmpretrain's ``CIFAR100``)
  need no file check; their labels are checked. Files of
  another storage backend than the local disk (``backend_args``, ``s3://``...) are not
  ``stat``-ed: only the decoded sample reads them.

``tools/misc/check_dataset.py`` runs both on a config and lists every problem (decoding every
sample by default); :class:`mcl_mm.engine.hooks.DatasetCheckHook` runs the scan at the start of
training (decoding ``DEFAULT_MAX_DECODE`` samples of each data set, remembered in the work dir).
"""
import hashlib
import importlib
import inspect
import json
import logging
import os
import os.path as osp
import pickle
import re
import stat
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmengine import fileio
from mmengine.dist import all_gather_object, broadcast_object_list, get_dist_info

from mcl_mm.engine.checkpoint import atomic_write

SPLITS = ('train', 'val', 'test')


class BadDataError(ValueError):
    """Bad files in a data set (raised by :class:`~mcl_mm.engine.hooks.DatasetCheckHook`)."""


@dataclass(frozen=True)
class DataProblem:
    """One bad file (or data set): ``str()`` gives ``'<kind> <path>: <what>'``.

    Attributes:
        kind: ``'image'``, ``'label'``, ``'sample'`` (a data info, e.g. its ``gt_label``) or
            ``'dataset'`` (the whole data set, e.g. empty).
        path: the file (or folder) concerned.
        what: what is wrong and what was expected.
        indices: the samples of the scanned (leaf) data set that use the file.
        dataset: which data set of a wrapper (``''``, or e.g. ``'datasets[1]'``).
    """
    kind: str
    path: str
    what: str
    indices: Tuple[int, ...] = field(default=(), compare=False)
    dataset: str = field(default='', compare=False)

    def __str__(self) -> str:
        return f'{self.kind} {self.path}: {self.what}'


# ------------------------------------------------------------------------------ config level
def _is_remote(path: str) -> bool:
    return '://' in path or path.startswith('s3:')


def _shown(path: str) -> str:
    return repr(path) if osp.isabs(path) else f'{path!r} (i.e. {osp.abspath(path)})'


def _join(root: str, path: str) -> str:
    """As mmengine's ``BaseDataset._join_prefix``."""
    return fileio.join_path(root, path) if path and root and not osp.isabs(path) else path


def _dataset_class(dataset_cfg: dict, scope: Optional[str]):
    """The class ``dataset_cfg['type']`` names (in ``scope``), or None."""
    from mmengine.registry import DATASETS
    typ = dataset_cfg.get('type')
    if not isinstance(typ, str):
        return typ if inspect.isclass(typ) else None
    try:  # as build_from_cfg: the scope's registry (importing it), then the name
        with DATASETS.switch_scope_and_registry(dataset_cfg.get('_scope_', scope)) as registry:
            return registry.get(typ)
    except Exception:  # noqa: BLE001 - an unknown type is the builder's error to report
        return None


def _class_default(cls, name: str, fallback=None):
    """The default of ``name`` in the first ``__init__`` of ``cls``'s MRO that has one."""
    for klass in getattr(cls, '__mro__', ()):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            param = inspect.signature(init).parameters.get(name)
        except (TypeError, ValueError):
            continue
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return fallback


def _toolbox_class(module: str, name: str):
    """``module.name`` where its toolbox is already imported, else None: an object of that
    class can only exist once the toolbox is imported (and an optional toolbox may not be
    installed; importing one just to find out takes seconds)."""
    if module.split('.')[0] not in sys.modules:
        return None
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        return None


def _is_seg_dataset(cls) -> bool:
    base = _toolbox_class('mmseg.datasets', 'BaseSegDataset')
    return base is not None and inspect.isclass(cls) and issubclass(cls, base)


def _split_names_image_folder(cls) -> bool:
    """mmpretrain's ``ImageNet``: ``split`` (without ``data_prefix``) names the image folder
    ``data_root/<split>`` (and ``meta/<split>.txt`` the list, where it exists)."""
    base = _toolbox_class('mmpretrain.datasets', 'ImageNet')
    return base is not None and inspect.isclass(cls) and issubclass(cls, base)


def _has_file_with_suffix(folder: str, suffix: str) -> bool:
    """Whether a file under ``folder`` (recursively) ends with ``suffix``; stops at the first."""
    for root, dirs, files in os.walk(folder, followlinks=True):
        if any(name.endswith(suffix) for name in files):
            return True
    return False


def _leaf_dataset_cfgs(dataset_cfg, key: str):
    """(key, cfg) of the data sets a (possibly wrapped) data set config reads from disk."""
    if not isinstance(dataset_cfg, dict):
        return
    wrapped = False
    if isinstance(dataset_cfg.get('dataset'), dict):
        wrapped = True
        yield from _leaf_dataset_cfgs(dataset_cfg['dataset'], f'{key}.dataset')
    if isinstance(dataset_cfg.get('datasets'), (list, tuple)):
        wrapped = True
        for i, sub in enumerate(dataset_cfg['datasets']):
            yield from _leaf_dataset_cfgs(sub, f'{key}.datasets[{i}]')
    if not wrapped:
        yield key, dataset_cfg


def _dataset_cfg_problems(dataset_cfg: dict, key: str, scope: Optional[str]) -> List[str]:
    cls = _dataset_class(dataset_cfg, scope)
    if dataset_cfg.get('backend_args') or dataset_cfg.get('file_client_args'):
        return []  # not the local disk: the backend reports its own errors
    data_root = dataset_cfg.get('data_root', '') or ''
    if not isinstance(data_root, str) or _is_remote(data_root):
        return []
    if data_root:
        if not osp.isdir(data_root):
            what = 'is not a folder' if osp.exists(data_root) else 'does not exist'
            return [f"{key}.data_root: {_shown(data_root)} {what} (expected the data set's "
                    'root folder)']
        if not any(True for _ in os.scandir(data_root)):
            return [f"{key}.data_root: {_shown(data_root)} is an empty folder (expected the "
                    "data set's files)"]
    problems = []
    ann_file = dataset_cfg.get('ann_file', _class_default(cls, 'ann_file', '')) or ''
    if isinstance(ann_file, str) and ann_file and not _is_remote(ann_file):
        path = _join(data_root, ann_file)
        if not osp.exists(path):
            rel = f' ({ann_file!r} under data_root)' if path != ann_file else ''
            problems.append(f'{key}.ann_file: {_shown(path)} does not exist{rel} (expected the '
                            'annotation file)')
        elif osp.isfile(path) and osp.getsize(path) == 0:
            problems.append(f'{key}.ann_file: {_shown(path)} is empty (expected the '
                            'annotations)')
    data_prefix = dataset_cfg.get('data_prefix', _class_default(cls, 'data_prefix', None))
    if isinstance(data_prefix, str):
        data_prefix = dict(img_path=data_prefix)
    split = dataset_cfg.get('split')
    prefix_keys = {name: f'{key}.data_prefix.{name}' for name in data_prefix or {}}
    if not (data_prefix or {}).get('img_path') and isinstance(split, str) and split and \
            _split_names_image_folder(cls):
        data_prefix = dict(data_prefix or {}, img_path=split)
        prefix_keys['img_path'] = f'{key}.split'
    pipeline = dataset_cfg.get('pipeline')
    loads_labels = not isinstance(pipeline, (list, tuple)) or any(
        'LoadAnnotations' in str(t.get('type', '') if isinstance(t, dict) else type(t).__name__)
        for t in pipeline)
    folders = {}
    for name, prefix in (data_prefix or {}).items():
        if not isinstance(prefix, str) or _is_remote(prefix) or not (prefix or data_root):
            continue
        if name in ('seg_map_path', 'seg') and not loads_labels:
            continue  # e.g. a test set without labels, predicted for submission
        folder = _join(data_root, prefix) if prefix else data_root
        folders[name] = folder
        if not osp.isdir(folder):
            problems.append(f'{prefix_keys[name]}: folder {_shown(folder)} does not exist'
                            f'{f" ({prefix!r} under data_root)" if folder != prefix else ""}')
    # an mmseg data set without an ann_file lists its image folder; with no image there the
    # stock class fails with 'need at least one array to concatenate'
    img_dir = folders.get('img_path')
    ann_is_list = bool(ann_file) and not osp.isdir(_join(data_root, ann_file))
    if _is_seg_dataset(cls) and img_dir and osp.isdir(img_dir) and not ann_is_list:
        suffix = dataset_cfg.get('img_suffix', _class_default(cls, 'img_suffix', '.jpg'))
        if not _has_file_with_suffix(img_dir, suffix):
            problems.append(f"{key}.data_prefix.img_path: no image files '*{suffix}' under "
                            f'{_shown(img_dir)} (the data set would be empty; expected '
                            f'images named *{suffix}, the img_suffix of {cls.__name__})')
    return problems


def active_splits(cfg, splits: Optional[Sequence[str]] = None,
                  require_loops: bool = True) -> List[str]:
    """The splits of ``splits`` (default all) that the config has a data set for: a
    ``*_dataloader`` and, with ``require_loops``, the ``*_cfg`` and (val/test)
    ``*_evaluator`` without which the Runner does not build that split."""
    if splits is None:
        splits = SPLITS
    out = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f'splits: expected some of {SPLITS}, got {split!r}')
        if cfg.get(f'{split}_dataloader') is None:
            continue
        if require_loops and (cfg.get(f'{split}_cfg') is None or (
                split != 'train' and cfg.get(f'{split}_evaluator') is None)):
            continue
        out.append(split)
    return out


def find_data_root_problems(cfg, splits: Optional[Sequence[str]] = None,
                            require_loops: bool = True) -> List[str]:
    """What :func:`check_data_roots` would raise, one message per bad config key.

    Args:
        cfg: an mmengine ``Config``.
        splits: which of ``'train'``, ``'val'``, ``'test'`` to look at (default all); see
            :func:`active_splits` for those skipped.
        require_loops: see :func:`active_splits`.
    """
    scope = cfg.get('default_scope')
    problems = []
    for split in active_splits(cfg, splits, require_loops):
        loader = cfg.get(f'{split}_dataloader')
        for key, dataset_cfg in _leaf_dataset_cfgs(loader.get('dataset'),
                                                   f'{split}_dataloader.dataset'):
            problems += _dataset_cfg_problems(dataset_cfg, key, scope)
        if split == 'train':
            continue
        evaluators = cfg.get(f'{split}_evaluator')
        evaluators = evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]
        for i, evaluator in enumerate(evaluators):
            ann = evaluator.get('ann_file') if isinstance(evaluator, dict) else None
            if isinstance(ann, str) and ann and not _is_remote(ann) and not osp.isfile(ann):
                idx = f'[{i}]' if len(evaluators) > 1 else ''
                problems.append(f'{split}_evaluator{idx}.ann_file: {_shown(ann)} does not exist '
                                '(expected the annotation file the metric scores against)')
    return problems


def check_data_roots(cfg, splits: Optional[Sequence[str]] = None) -> None:
    """Raise ``FileNotFoundError`` naming each config key whose data root, annotation file or
    data folder is missing or empty (see :func:`find_data_root_problems`); call it before
    building the Runner."""
    problems = find_data_root_problems(cfg, splits)
    if problems:
        raise FileNotFoundError('bad data paths in the config:\n  ' + '\n  '.join(problems))


# ----------------------------------------------------------------------------- data set scan
DEFAULT_MAX_DECODE = 200
"""Samples of each data set that :class:`~mcl_mm.engine.hooks.DatasetCheckHook` decodes by
default, evenly spread (the first and the last included). A fault of every file (wrong label
encoding, colour label maps, another image size or format) is always caught; one that affects
a share ``s`` of the files is missed by all 200 with probability ``(1 - s) ** 200``: 13 % for
``s = 1 %``, 0.2 % for ``s = 3 %``. A single corrupted file is found by a full decode only
(``max_decode=None``, ``tools/misc/check_dataset.py``). Cost on these two shared cores
(``tools/benchmark_dataset_check.py``): about 0.4 s for ImageNet's 500x375 JPEGs, 17-19 s
for Cityscapes' 2048x1024 PNG pairs, per data set.
"""
CHUNK = 4096
"""Samples per unit of the file check; units are shared round-robin by the processes, and the
fingerprint hashes one digest per unit, so it does not depend on the number of processes."""
CHECK_VERSION = 2
"""Part of every fingerprint: raise it when what the scan checks changes, so that records of
the old checks no longer match."""
RECORD_MARK = 'mcl_mm.dataset_check'
_KIND_ORDER = {'dataset': 0, 'image': 1, 'label': 2, 'sample': 3}


def leaf_datasets(dataset, name: str = '') -> List[Tuple[str, object]]:
    """(name, data set) of the data sets inside wrappers (``ConcatDataset.datasets``,
    ``RepeatDataset.dataset``, ...), or ``[('', dataset)]``."""
    subs = getattr(dataset, 'datasets', None)
    if isinstance(subs, (list, tuple)) and subs:
        out = []
        for i, sub in enumerate(subs):
            out += leaf_datasets(sub, f'{name}.datasets[{i}]' if name else f'datasets[{i}]')
        return out
    sub = getattr(dataset, 'dataset', None)
    if sub is not None and hasattr(sub, '__len__') and hasattr(sub, 'get_data_info'):
        return leaf_datasets(sub, f'{name}.dataset' if name else 'dataset')
    return [(name, dataset)]


def _loader_settings(dataset) -> Tuple[dict, dict]:
    """kwargs of ``mmcv.imfrombytes``/``fileio.get`` the data set's pipeline uses for images
    and for mmseg label maps."""
    img = dict(flag='color', backend='cv2', backend_args=None)
    seg = dict(flag='unchanged', backend='pillow', backend_args=None)
    for t in getattr(getattr(dataset, 'pipeline', None), 'transforms', []) or []:
        name = type(t).__name__
        if name == 'LoadImageFromFile' or (hasattr(t, 'color_type') and 'Load' in name):
            img.update(flag=getattr(t, 'color_type', 'color'),
                       backend=getattr(t, 'imdecode_backend', 'cv2') or 'cv2',
                       backend_args=getattr(t, 'backend_args', None))
        elif name == 'LoadAnnotations' and hasattr(t, 'imdecode_backend'):
            seg.update(backend=t.imdecode_backend or 'pillow',
                       backend_args=getattr(t, 'backend_args', None))
    return img, seg


def _decode(path: str, settings: dict):
    """(array, None) or (None, what went wrong)."""
    try:
        data = fileio.get(path, backend_args=settings['backend_args'])
    except FileNotFoundError:
        return None, 'does not exist'
    except Exception as e:  # noqa: BLE001
        return None, f'cannot be read ({type(e).__name__}: {e})'
    if not data:
        return None, 'is empty (0 bytes); expected a readable image file'
    how = f"mmcv.imfrombytes(flag='{settings['flag']}', backend='{settings['backend']}')"
    try:
        arr = mmcv.imfrombytes(data, flag=settings['flag'], backend=settings['backend'])
    except Exception as e:  # noqa: BLE001
        msg = re.sub(r' <_io\.BytesIO object at 0x[0-9a-f]+>', '', str(e)).strip()
        return None, (f'cannot be decoded by {how} ({len(data)} bytes; {type(e).__name__}: '
                      f'{msg}); expected a readable image file')
    if arr is None or arr.size == 0:
        return None, (f'cannot be decoded by {how} ({len(data)} bytes; truncated or not an '
                      'image); expected a readable image file')
    return arr, None


def _stat_file(path: str, ids: Tuple[int, frozenset]) -> Tuple[str, Optional[str]]:
    """``('<size>:<mtime_ns>', None)`` for a non-empty regular file (symbolic links followed)
    this process may read, else ``(code, what is wrong)``. ``ids``: (effective uid, group ids).
    The first item goes into the data set's fingerprint."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if osp.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = '?'
            return 'missing', f'a symbolic link to {target}, which does not exist'
        return 'missing', ''
    except OSError as e:
        return 'error', f'cannot be read ({type(e).__name__}: {e.strerror or e})'
    if not stat.S_ISREG(st.st_mode):
        what = 'is a folder' if stat.S_ISDIR(st.st_mode) else 'is not a regular file'
        return 'notfile', f'{what}; expected a readable image file'
    if st.st_size == 0:
        return 'empty', 'is empty (0 bytes); expected a readable image file'
    uid, groups = ids
    if uid == 0:
        readable = True
    elif st.st_uid == uid:
        readable = st.st_mode & stat.S_IRUSR
    elif st.st_gid in groups:
        readable = st.st_mode & stat.S_IRGRP
    else:
        readable = st.st_mode & stat.S_IROTH
    if not readable and not os.access(path, os.R_OK):  # access() also reads ACLs
        return 'unreadable', (f'is not readable by this process ({stat.filemode(st.st_mode)}, '
                              f'owner uid {st.st_uid}, group {st.st_gid}); expected a readable '
                              'image file')
    return f'{st.st_size}:{st.st_mtime_ns}', None


def _process_ids() -> Tuple[int, frozenset]:
    if not hasattr(os, 'geteuid'):
        return 0, frozenset()  # no POSIX ids: rely on the decode to find unreadable files
    return os.geteuid(), frozenset([os.getegid(), *os.getgroups()])


def _label_lut(reduce_zero_label: bool, label_map: Optional[dict]) -> np.ndarray:
    """uint8 value in the file -> label the pipeline gives it (mmseg's LoadAnnotations)."""
    lut = np.arange(256, dtype=np.uint8)
    if reduce_zero_label:
        lut[lut == 0] = 255
        lut = lut - 1
        lut[lut == 254] = 255
    if label_map:
        orig = lut.copy()
        for old, new in label_map.items():
            lut[orig == old] = new
    return lut


def _describe_mapping(reduce_zero_label: bool, label_map: Optional[dict]) -> str:
    notes = []
    if reduce_zero_label:
        notes.append('reduce_zero_label: a file value v is class v-1, 0 is ignored')
    if label_map:
        notes.append(f'label_map {dict(label_map)}')
    return f'; {"; ".join(notes)}' if notes else ''


class _Scanner:
    """Checks the files and labels of one sample of a (leaf) data set."""

    def __init__(self, dataset, num_classes: Optional[int]):
        from_meta = len((getattr(dataset, 'metainfo', None) or {}).get('classes', ()) or ())
        self.num_classes = min([k for k in (from_meta, num_classes) if k], default=None)
        if num_classes and num_classes < from_meta:
            self.k_source = (f"the model's num_classes, {num_classes}; the data set has "
                             f'{from_meta}')
        else:
            self.k_source = "the data set's classes"
        ann_file = getattr(dataset, 'ann_file', '')
        self.listed_in = f' (listed in {ann_file})' if isinstance(ann_file, str) and osp.isfile(
            ann_file) else ''
        self.img_settings, self.seg_settings = _loader_settings(dataset)
        self.is_seg = _is_seg_dataset(type(dataset))
        self.ignore_index = getattr(dataset, 'ignore_index', 255)
        self._luts: Dict[tuple, np.ndarray] = {}
        # files a stat() can check: the local disk (mmengine's default backend)
        self.local = all(s['backend_args'] in (None, {}, {'backend': 'local'})
                         for s in (self.img_settings, self.seg_settings))
        self.ids = _process_ids()
        label_map = getattr(dataset, 'label_map', None)
        # what the checks depend on besides the files: part of the fingerprint
        self.key = repr((
            self.num_classes, self.is_seg, self.ignore_index,
            {k: (v['flag'], v['backend'], repr(v['backend_args']))
             for k, v in (('img', self.img_settings), ('seg', self.seg_settings))},
            getattr(dataset, 'reduce_zero_label', None),
            sorted(dict(label_map).items()) if isinstance(label_map, dict) else label_map))

    # -- cheap checks, every sample
    @staticmethod
    def file_message(kind: str, code: str, what: str, img_path: Optional[str]) -> str:
        if code != 'missing':
            return what
        notes = [what] if what else []
        if kind == 'label':
            notes.append(f'expected the label map of image {img_path}')
        return f'does not exist ({"; ".join(notes)})' if notes else 'does not exist'

    def check_gt_label(self, info, img_path):
        if 'gt_label' not in info or not self.num_classes:
            return []
        k = self.num_classes
        gt = info['gt_label']
        if isinstance(gt, (int, np.integer)):
            if 0 <= gt < k:
                return []
            bad = [int(gt)]
        else:
            labels = np.atleast_1d(np.asarray(gt)).ravel()
            bad = sorted({int(v) for v in labels if not (0 <= int(v) < k)})
            if not bad:
                return []
        return [('sample', img_path or f'#{info.get("sample_idx", "?")}',
                 f'gt_label {bad[0] if len(bad) == 1 else bad}{self.listed_in} outside '
                 f'0..{k - 1} ({self.k_source}); expected a class index')]

    # -- decoding, a bounded sample (or all with max_decode=None)
    def decode(self, info: dict, skip=frozenset()) -> List[Tuple[str, str, str]]:
        """(kind, path, what) of each problem of decoding the sample ``info``'s files, but
        those in ``skip`` (already reported by the file check)."""
        out = []
        img = None
        img_path = info.get('img_path')
        if img_path and img_path not in skip:
            img, err = _decode(img_path, self.img_settings)
            if err:
                out.append(('image', img_path, err))
        seg = info.get('seg_map_path')
        if self.is_seg and seg and seg not in skip:
            out += self._check_seg(info, img, img_path)
        return out

    def _check_seg(self, info, img, img_path):
        path = info['seg_map_path']
        label, err = _decode(path, self.seg_settings)
        if err:
            return [('label', path, err if err != 'does not exist' else
                     f'does not exist (expected the label map of image {img_path})')]
        out = []
        label = label.squeeze()
        if label.ndim != 2:
            return [('label', path, f'has shape {label.shape}; expected a single-channel map '
                     'of class indices (not a colour image)')]
        if label.dtype != np.uint8 and label.size and int(label.max()) > 255:
            out.append(('label', path, f'is {label.dtype} with values up to {int(label.max())}; '
                        'mmseg casts label maps to uint8 (values above 255 wrap around)'))
        if img is not None and img.shape[:2] != label.shape:
            out.append(('label', path, f'is {label.shape[0]}x{label.shape[1]}, its image '
                        f'{img_path} is {img.shape[0]}x{img.shape[1]}; expected the same size'))
        if self.num_classes:
            out += self._check_label_values(info, path, label.astype(np.uint8))
        return out

    def _check_label_values(self, info, path, label):
        rzl = bool(info.get('reduce_zero_label', False))
        label_map = info.get('label_map') or None
        key = (rzl, tuple(sorted((label_map or {}).items())))
        if key not in self._luts:
            self._luts[key] = _label_lut(rzl, label_map)
        lut = self._luts[key]
        k, ignore = self.num_classes, self.ignore_index
        present = np.flatnonzero(np.bincount(label.ravel(), minlength=256))
        mapped = lut[present].astype(np.int64)
        bad = present[(mapped >= k) & (mapped != ignore)]
        if not len(bad):
            return []
        return [('label', path, f'label values {bad.tolist()} outside 0..{k - 1} (ignore '
                 f'{ignore}{_describe_mapping(rzl, label_map)}); expected class indices '
                 f'({self.k_source}) or {ignore}')]


def sample_indices(length: int, max_samples: Optional[int]) -> List[int]:
    """All of ``range(length)``, or ``max_samples`` of them evenly spread (the first and the
    last included)."""
    if max_samples is None or max_samples >= length:
        return list(range(length))
    if max_samples <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, length - 1, max_samples).round()})


def _data_infos(dataset, indices: Sequence[int]):
    """``(i, dataset.get_data_info(i))`` for ``i`` in ``indices``. Where ``get_data_info`` is
    mmengine's own and the list is serialized (the default), the infos are unpickled straight
    from it: the same dicts, at half the cost (0.6 s less per 100 000 samples)."""
    from mmengine.dataset import BaseDataset
    fast = (type(dataset).get_data_info is BaseDataset.get_data_info
            and getattr(dataset, 'serialize_data', False)
            and getattr(dataset, '_fully_initialized', False)
            and getattr(dataset, 'data_address', None) is not None)
    if not fast or not len(indices):
        for i in indices:
            yield i, dataset.get_data_info(i)
        return
    idx = np.asarray(indices, dtype=np.int64)
    if idx.min() < 0:
        idx = idx % len(dataset)
    address = dataset.data_address
    ends = address[idx].tolist()
    starts = np.where(idx > 0, address[np.maximum(idx - 1, 0)], 0).tolist()
    data = memoryview(dataset.data_bytes)
    loads = pickle.loads
    for i, a, b in zip(idx.tolist(), starts, ends):
        info = loads(data[a:b])
        info['sample_idx'] = i
        yield i, info


@dataclass
class _Leaf:
    name: str
    dataset: object
    scanner: _Scanner
    indices: List[int]


@dataclass
class FilePass:
    """What one process's file check found: a digest per unit (``CHUNK`` samples) it checked,
    ``(leaf, kind, path, what, index)`` per problem, and how many files it looked at."""
    digests: Dict[int, str]
    problems: List[tuple]
    files: int


@dataclass
class ScanResult:
    """The outcome of :meth:`DatasetScan.run`.

    Attributes:
        problems: one per bad file (or data set), sorted by data set and sample.
        samples: samples whose files were checked (every one, but with ``max_samples``).
        files: files checked to be present, regular, readable and not empty.
        decode_planned: samples in the decoded sample (all with ``max_decode=None``).
        decoded_all: whether that is every sample.
        decoded: samples decoded by this run (0 when ``remembered``).
        remembered: the decode's outcome came from a record.
        fingerprint: of the data set as checked (see :meth:`DatasetScan.fingerprint`).
        record: the record read or written, if any.
        file_seconds, decode_seconds: time of the two steps.
    """
    problems: List[DataProblem]
    samples: int
    files: int
    decode_planned: int
    decoded_all: bool
    decoded: int
    remembered: bool
    fingerprint: str
    record: Optional[str]
    file_seconds: float
    decode_seconds: float

    def details(self) -> str:
        """What was checked, how, and how long it took."""
        scope = (f'all {self.decode_planned}' if self.decoded_all else
                 f'{self.decode_planned} evenly spread')
        if self.remembered:
            decode = (f'decode of {scope} samples remembered from {self.record} (same '
                      'fingerprint: no file listed, added, removed or changed since)')
        else:
            decode = f'{scope} samples decoded in {self.decode_seconds:.1f} s'
            if self.record:
                decode += f', recorded in {self.record}'
        return (f'{self.files} files checked to be present, readable and not empty in '
                f'{self.file_seconds:.1f} s; {decode}')

    def summary(self) -> str:
        return f'{self.samples} samples: {self.details()}'


class DatasetScan:
    """The scan of one built data set (all data sets inside a wrapper), in steps several
    processes can share: see :meth:`run`.

    Args:
        dataset: an mmengine ``BaseDataset`` (mmseg, mmdet, mmpose, mcl_mm data sets) or a
            wrapper of them (``ConcatDataset``, ``RepeatDataset``, ...; each inner data set is
            scanned once). A lazily initialised data set is fully initialised.
        num_classes: the number of classes the model predicts; labels must be below it and
            below the number of ``metainfo['classes']`` (None: the latter only).
        max_samples: check at most this many samples of each inner data set, evenly spread
            (None: all).
        max_decode: of those, decode at most this many, evenly spread (None: all; 0: none).
        workers: threads that decode files (decoders release the GIL: they run in parallel).
        indices: check these sample indices (of a data set that is no wrapper) instead.
        file_workers: threads of the file check (``stat``). One by default: on a local disk
            the check is bound by Python's per-sample work under the GIL, and threads make it
            slower (measured on 100 000 ImageNet entries on 2 cores: 0.92 s with one thread,
            1.45 s with four). On a network file system, where each ``stat`` waits on the
            server, more threads overlap those waits.
    """

    def __init__(self, dataset, num_classes: Optional[int] = None,
                 max_samples: Optional[int] = None, max_decode: Optional[int] = None,
                 workers: int = 4, indices: Optional[Iterable[int]] = None,
                 file_workers: int = 1):
        if max_decode is not None and (not isinstance(max_decode, int) or max_decode < 0):
            raise ValueError(f'max_decode must be None or an int >= 0, got {max_decode!r}')
        self.max_decode = max_decode
        self.workers = max(1, int(workers))
        self.file_workers = max(1, int(file_workers))
        self.leaves: List[_Leaf] = []
        self.empty: List[DataProblem] = []
        for name, ds in leaf_datasets(dataset):
            if hasattr(ds, 'full_init'):
                ds.full_init()
            length = len(ds)
            if length == 0:
                root = getattr(ds, 'data_root', '') or getattr(ds, 'ann_file', '') or '?'
                self.empty.append(DataProblem('dataset', str(root), f'{type(ds).__name__} has '
                                              'no samples; expected at least one', (), name))
                continue
            idx = sample_indices(length, max_samples) if indices is None else list(indices)
            self.leaves.append(_Leaf(name, ds, _Scanner(ds, num_classes), idx))
        self.samples = sum(len(leaf.indices) for leaf in self.leaves)
        # units of the file check: (leaf number, first position in its indices)
        self.chunk = CHUNK
        self.chunks = [(n, start) for n, leaf in enumerate(self.leaves)
                       for start in range(0, len(leaf.indices), self.chunk)]
        self._leaf_no = {leaf.name: n for n, leaf in enumerate(self.leaves)}
        self._plan = None

    # -- step 1: every sample's files (stat) and listed labels; the fingerprint
    def _file_chunk(self, cid: int):
        n, start = self.chunks[cid]
        leaf = self.leaves[n]
        sc = leaf.scanner
        is_seg, local, ids, k = sc.is_seg, sc.local, sc.ids, sc.num_classes
        seen: Dict[str, Tuple[str, Optional[str]]] = {}
        rows, found = [], []
        for i, info in _data_infos(leaf.dataset, leaf.indices[start:start + self.chunk]):
            img = info.get('img_path')
            seg = info.get('seg_map_path') if is_seg else None
            row = [i, img, seg]
            for kind, path in (('image', img), ('label', seg)):
                if not path:
                    continue
                res = seen.get(path)
                if res is None:
                    if local and '://' not in path and not path.startswith('s3:'):
                        res = _stat_file(path, ids)
                    else:
                        res = ('remote', None)  # another backend: only the decode reads it
                    seen[path] = res
                row.append(res[0])
                if res[1] is not None:
                    found.append((n, kind, path, sc.file_message(kind, *res, img), i))
            if 'gt_label' in info:
                gt = info['gt_label']
                if isinstance(gt, (int, np.integer)):
                    row.append(gt)
                    if k and 0 <= gt < k:
                        rows.append(repr(row))
                        continue
                else:
                    row.append(np.asarray(gt).tolist())
                found += [(n, kind, path, what, i)
                          for kind, path, what in sc.check_gt_label(info, img)]
            rows.append(repr(row))
        digest = hashlib.blake2b('\n'.join(rows).encode(), digest_size=16).hexdigest()
        return cid, digest, found, len(seen)

    def file_pass(self, rank: int = 0, world_size: int = 1) -> FilePass:
        """Check the files of the units ``rank``, ``rank + world_size``, ...: each must exist
        (symbolic links followed), be a regular file this process may read and not be empty;
        classification labels must be class indices. Nothing is decoded."""
        mine = list(range(rank, len(self.chunks), world_size))
        with ThreadPoolExecutor(min(self.file_workers, max(1, len(mine)))) as pool:
            results = list(pool.map(self._file_chunk, mine))
        return FilePass({cid: d for cid, d, _, _ in results},
                        [p for _, _, found, _ in results for p in found],
                        sum(k for *_, k in results))

    def _header(self) -> str:
        return repr([RECORD_MARK, CHECK_VERSION, self.chunk, [
            (leaf.name, f'{type(leaf.dataset).__module__}.{type(leaf.dataset).__qualname__}',
             len(leaf.dataset), len(leaf.indices), leaf.scanner.key) for leaf in self.leaves],
            [str(p) for p in self.empty]])

    def fingerprint(self, passes: Sequence[FilePass]) -> str:
        """A hash of what the checks depend on: the data set classes and lengths, each checked
        sample's index, paths and listed label, each file's size and modification time (or
        what is wrong with it), the number of classes, the ignore index, the label mapping
        and the decoding settings. ``passes``: the :meth:`file_pass` of every process."""
        digests: Dict[int, str] = {}
        for p in passes:
            digests.update(p.digests)
        missing = [c for c in range(len(self.chunks)) if c not in digests]
        if missing:
            raise ValueError(f'fingerprint: the file passes miss units {missing[:5]} (expected '
                             'the passes of every process)')
        h = hashlib.blake2b(self._header().encode(), digest_size=16)
        for c in range(len(self.chunks)):
            h.update(digests[c].encode())
        return h.hexdigest()

    # -- step 2: decode a bounded, evenly spread sample (or all)
    def decode_plan(self) -> List[Tuple[int, List[int]]]:
        """(leaf, sample indices) per distinct pair of files (image, label map) to decode: the
        ``max_decode`` evenly spread samples of each data set; the same in every process."""
        if self._plan is None:
            plan = []
            for n, leaf in enumerate(self.leaves):
                groups: Dict[tuple, List[int]] = {}
                chosen = [leaf.indices[pos]
                          for pos in sample_indices(len(leaf.indices), self.max_decode)]
                for i, info in _data_infos(leaf.dataset, chosen):
                    key = (info.get('img_path'),
                           info.get('seg_map_path') if leaf.scanner.is_seg else None)
                    if key != (None, None):  # an in-memory sample (CIFAR) has no file
                        groups.setdefault(key, []).append(i)
                plan += [(n, ix) for ix in groups.values()]
            self._plan = plan
        return self._plan

    @property
    def decodes_all(self) -> bool:
        return self.max_decode is None or all(self.max_decode >= len(leaf.indices)
                                              for leaf in self.leaves)

    def decode_pass(self, skip=frozenset(), rank: int = 0, world_size: int = 1) -> List[tuple]:
        """Decode the files of items ``rank``, ``rank + world_size``, ... of the
        :meth:`decode_plan` as the pipeline does (files in ``skip``, already reported, are
        left out); ``(leaf, kind, path, what, indices)`` per problem."""
        mine = self.decode_plan()[rank::world_size]

        def work(item):
            n, ix = item
            leaf = self.leaves[n]
            info = leaf.dataset.get_data_info(ix[0])
            return [(n, kind, path, what, tuple(ix))
                    for kind, path, what in leaf.scanner.decode(info, skip)]

        with ThreadPoolExecutor(min(self.workers, max(1, len(mine)))) as pool:
            return [p for found in pool.map(work, mine) for p in found]

    def _with_every_user(self, problems: List[DataProblem]) -> List[DataProblem]:
        """A file found bad in the decoded sample may be used by samples outside it (mmpose:
        one sample per person): give each problem the indices of every sample using it."""
        if self.decodes_all or not problems:
            return problems
        wanted: Dict[int, set] = {}
        for p in problems:
            wanted.setdefault(self._leaf_no[p.dataset], set()).add(p.path)
        users: Dict[Tuple[int, str], List[int]] = {}
        for n, paths in wanted.items():
            leaf = self.leaves[n]
            for i, info in _data_infos(leaf.dataset, leaf.indices):
                for path in {info.get('img_path'), info.get('seg_map_path')}:
                    if path in paths:
                        users.setdefault((n, path), []).append(i)
        return [DataProblem(p.kind, p.path, p.what,
                            tuple(users.get((self._leaf_no[p.dataset], p.path), p.indices)),
                            p.dataset) for p in problems]

    def problems(self, found: Iterable[tuple]) -> List[DataProblem]:
        """``(leaf, kind, path, what, index or indices)`` tuples -> one :class:`DataProblem`
        per data set and (kind, path, what) with all its samples, sorted by data set, first
        sample, then image / label / listed label."""
        merged: Dict[tuple, set] = {}
        for n, kind, path, what, ix in found:
            merged.setdefault((n, kind, path, what), set()).update(
                ix if isinstance(ix, (tuple, list)) else (ix, ))
        out = [(n, DataProblem(kind, path, what, tuple(sorted(ix)), self.leaves[n].name))
               for (n, kind, path, what), ix in merged.items()]
        out.sort(key=lambda e: (e[0], e[1].indices[0] if e[1].indices else -1,
                                _KIND_ORDER.get(e[1].kind, 9)))
        return [p for _, p in out]

    # -- both steps, in one or several processes, remembering the decode
    def run(self, record_dir: Optional[str] = None) -> ScanResult:
        """Check every sample's files, then decode the bounded sample unless ``record_dir``
        holds the record of a decode of the same fingerprint (with the same ``max_decode``,
        or of all samples); after decoding, write that record there.

        In a distributed run (mmengine's ``get_dist_info``) every process must call this with
        the same data set: each checks and decodes its share, the findings are gathered, so
        every process returns the same result; process 0 alone reads the record (its answer is
        broadcast) and writes it (atomically). An error in one process is raised in all.
        """
        rank, world_size = get_dist_info()
        start = time.perf_counter()
        passes = _in_every_process(lambda: self.file_pass(rank, world_size), world_size)
        fingerprint = self.fingerprint(passes)
        file_found = [p for fp in passes for p in fp.problems]
        files = sum(fp.files for fp in passes)
        file_seconds = time.perf_counter() - start

        start = time.perf_counter()
        path = osp.join(record_dir, f'{fingerprint}.json') if record_dir else None
        record = self._read_record(path, fingerprint) if path else None
        if world_size > 1 and path:
            box = [record]
            broadcast_object_list(box, src=0)
            record = box[0]
        if record is not None:
            decoded_problems = [DataProblem(p['kind'], p['path'], p['what'],
                                            tuple(p['indices']), p['dataset'])
                                for p in record['problems']]
            planned, decoded = int(record['decoded']), 0
            decoded_all = bool(record['decoded_all'])
        else:
            skip = frozenset(p[2] for p in file_found if p[1] in ('image', 'label'))
            found = _in_every_process(lambda: self.decode_pass(skip, rank, world_size),
                                      world_size)
            decoded_problems = self._with_every_user(self.problems(
                [p for part in found for p in part]))
            planned = decoded = sum(len(ix) for _, ix in self.decode_plan())
            decoded_all = self.decodes_all
            if path and rank == 0:
                path = self._write_record(path, fingerprint, decoded_problems, planned,
                                          time.perf_counter() - start)
        problems = list(self.empty) + self.problems(
            file_found + [(self._leaf_no[p.dataset], p.kind, p.path, p.what, p.indices)
                          for p in decoded_problems])
        return ScanResult(problems, self.samples, files, planned, decoded_all, decoded,
                          record is not None, fingerprint, path,
                          file_seconds, time.perf_counter() - start)

    def _read_record(self, path: str, fingerprint: str) -> Optional[dict]:
        """The record at ``path`` if it is one of this fingerprint whose decode covers this
        scan's, else None (also when it cannot be read: the decode then runs again)."""
        if get_dist_info()[0] != 0 or not osp.isfile(path):
            return None
        try:
            with open(path) as f:
                record = json.load(f)
            if record.get('mark') != RECORD_MARK or record.get('fingerprint') != fingerprint:
                return None
            int(record['decoded'])
            covers = record['decoded_all'] is True or (
                not self.decodes_all and record['max_decode'] == self.max_decode)
            if not covers:
                return None
            for p in record['problems']:
                if p['dataset'] not in self._leaf_no or not isinstance(p['indices'], list):
                    return None
            return record
        except Exception:  # noqa: BLE001 - an unreadable record is no record
            return None

    def _write_record(self, path, fingerprint, problems, decoded, seconds) -> Optional[str]:
        """Write the record atomically (:func:`~mcl_mm.engine.checkpoint.atomic_write`);
        None (and a warning) if that fails: the next start decodes again."""
        record = dict(
            mark=RECORD_MARK, version=CHECK_VERSION, fingerprint=fingerprint,
            datasets=[f'{leaf.name or "dataset"}: {type(leaf.dataset).__name__} of '
                      f'{len(leaf.indices)} samples' for leaf in self.leaves],
            max_decode=self.max_decode, decoded_all=self.decodes_all, decoded=decoded,
            seconds=round(seconds, 2), written=time.strftime('%Y-%m-%d %H:%M:%S'),
            problems=[dict(kind=p.kind, path=p.path, what=p.what, indices=list(p.indices),
                           dataset=p.dataset) for p in problems])
        try:
            atomic_write(path, json.dumps(record, indent=1).encode('utf-8'))
            return path
        except (OSError, TypeError, ValueError) as e:
            from mmengine.logging import print_log
            print_log(f'dataset check: could not write its record {path} ({e}); the next start '
                      'decodes the sample again', logger='current', level=logging.WARNING)
            return None


def _in_every_process(fn, world_size: int) -> list:
    """``[fn() of process 0, fn() of process 1, ...]`` in every process. An exception in one
    process is raised in every process (the others would otherwise wait for it forever)."""
    if world_size == 1:
        return [fn()]
    try:
        out, err, exc = fn(), None, None
    except Exception as e:  # noqa: BLE001 - raised below, after the others know
        out, err, exc = None, f'{type(e).__name__}: {e}', e
    gathered = all_gather_object((out, err))
    if exc is not None:
        raise exc
    errors = [f'process {r}: {e}' for r, (_, e) in enumerate(gathered) if e]
    if errors:
        raise RuntimeError('the data set check failed in ' + '; '.join(errors))
    return [o for o, _ in gathered]


def check_dataset(dataset,
                  max_samples: Optional[int] = None,
                  num_classes: Optional[int] = None,
                  workers: int = 4,
                  indices: Optional[Iterable[int]] = None,
                  max_decode: Optional[int] = None,
                  file_workers: int = 1) -> List[DataProblem]:
    """Scan a built data set; one :class:`DataProblem` per bad file (see the module doc and
    :class:`DatasetScan` for the arguments). By default every sample is checked and decoded;
    ``max_decode=N`` decodes N evenly spread samples of each data set and only checks that
    the others' files are there."""
    return DatasetScan(dataset, num_classes, max_samples, max_decode, workers,
                       indices, file_workers).run().problems


def format_problems(problems: Sequence[DataProblem], limit: Optional[int] = None) -> str:
    """One problem a line (the first ``limit``), then how many were left out."""
    shown = problems if limit is None else problems[:limit]
    lines = [str(p) for p in shown]
    if len(problems) > len(shown):
        lines.append(f'... and {len(problems) - len(shown)} more')
    return '\n'.join(lines)


# ------------------------------------------------------------------------ model class count
def _heads_num_classes(node, parent_key: str = '') -> List[int]:
    out = []
    if isinstance(node, dict):
        if 'cfg_path' in node:
            from mcl_mm.models.builder import resolve_model_cfg
            try:
                node = resolve_model_cfg(node)
            except Exception:  # noqa: BLE001 - the model builder reports it
                return out
        k = node.get('num_classes')
        if parent_key.endswith('head') and isinstance(k, int) and k > 0:
            out.append(k)
        for key, value in node.items():
            out += _heads_num_classes(value, key if isinstance(value, dict) else parent_key)
    elif isinstance(node, (list, tuple)):
        for value in node:
            out += _heads_num_classes(value, parent_key)
    return out


def cfg_num_classes(model_cfg) -> Optional[int]:
    """The fewest ``num_classes`` of the heads (``decode_head``, ``auxiliary_head``,
    ``head``, ...) in a model config, reading ``cfg_path`` members; None if none."""
    found = _heads_num_classes(model_cfg)
    return min(found) if found else None


def model_num_classes(model) -> Optional[int]:
    """The fewest ``num_classes`` of a built model's mmseg decode heads and mmpretrain
    classification heads; None if it has none."""
    heads = [_toolbox_class('mmseg.models.decode_heads.decode_head', 'BaseDecodeHead'),
             _toolbox_class('mmpretrain.models.heads', 'ClsHead')]
    heads = [h for h in heads if h is not None]
    found = [m.num_classes for m in model.modules()
             if isinstance(m, tuple(heads)) and isinstance(getattr(m, 'num_classes', None), int)]
    return min(found) if found else None

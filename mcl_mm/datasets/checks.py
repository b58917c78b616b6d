"""Find bad data before a run uses it: missing roots, unreadable files, labels out of range.

Two levels:

* :func:`check_data_roots` / :func:`find_data_root_problems` look at a *config* (no data set
  is built): every ``data_root``, ``ann_file`` and ``data_prefix`` folder of the train / val /
  test data sets must exist, and an mmseg data set listed from its image folder must find
  images there. The stock data sets fail on these with messages that name neither the config
  key nor the path (``need at least one array to concatenate`` for an empty folder), so the
  tools call this before they build the Runner; the error names the config key
  (``train_dataloader.dataset.data_root``) and the path.
* :func:`check_dataset` scans a *built* data set, sample by sample, and returns one
  :class:`DataProblem` per bad file, naming the file and what was expected:

  - every ``img_path`` must decode with ``mmcv.imfrombytes`` as the pipeline's
    ``LoadImageFromFile`` does (its ``color_type``, ``imdecode_backend``, ``backend_args``);
  - mmseg (``BaseSegDataset``): every ``seg_map_path`` must decode as mmseg's
    ``LoadAnnotations`` does, be single-channel 8-bit, have its image's size, and, after
    ``reduce_zero_label`` and the data set's ``label_map`` (class subsets, CamVid's void ->
    255), hold only class indices ``0..K-1`` and the data set's ``ignore_index``;
  - classification (``gt_label``, e.g. ``mcl_mm.ImageNetDataset``): ``0 <= gt_label < K``.

  ``K`` is the number of classes of the data set's ``metainfo``, or fewer where the model's
  heads have fewer (``num_classes``). CIFAR's in-memory arrays need no file check.

``tools/misc/check_dataset.py`` runs both on a config and lists every problem;
:class:`mcl_mm.engine.hooks.DatasetCheckHook` runs the scan at the start of training.
"""
import inspect
import os
import os.path as osp
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmengine import fileio

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


def _is_seg_dataset(cls) -> bool:
    try:
        from mmseg.datasets import BaseSegDataset
    except ImportError:
        return False
    return inspect.isclass(cls) and issubclass(cls, BaseSegDataset)


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
            problems.append(f'{key}.data_prefix.{name}: folder {_shown(folder)} does not exist'
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
    """Checks the files of one sample of a (leaf) data set."""

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

    def __call__(self, info: dict) -> List[Tuple[str, str, str]]:
        """(kind, path, what) of each problem of the sample ``info``."""
        out = []
        img = None
        img_path = info.get('img_path')
        if img_path:
            img, err = _decode(img_path, self.img_settings)
            if err:
                out.append(('image', img_path, err))
        if self.is_seg and info.get('seg_map_path'):
            out += self._check_seg(info, img, img_path)
        if 'gt_label' in info and self.num_classes:
            out += self._check_gt_label(info, img_path)
        return out

    def _check_gt_label(self, info, img_path):
        labels = np.atleast_1d(np.asarray(info['gt_label'])).ravel()
        k = self.num_classes
        bad = sorted({int(v) for v in labels if not (0 <= int(v) < k)})
        if not bad:
            return []
        return [('sample', img_path or f'#{info.get("sample_idx", "?")}',
                 f'gt_label {bad[0] if len(bad) == 1 else bad}{self.listed_in} outside '
                 f'0..{k - 1} ({self.k_source}); expected a class index')]

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
    """All of ``range(length)``, or ``max_samples`` of them evenly spread."""
    if max_samples is None or max_samples >= length:
        return list(range(length))
    if max_samples <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, length - 1, max_samples).round()})


def check_dataset(dataset,
                  max_samples: Optional[int] = None,
                  num_classes: Optional[int] = None,
                  workers: int = 4,
                  indices: Optional[Iterable[int]] = None) -> List[DataProblem]:
    """Scan a built data set; one :class:`DataProblem` per bad file (see the module doc).

    Args:
        dataset: an mmengine ``BaseDataset`` (mmseg, mmdet, mmpose, mcl_mm data sets) or a
            wrapper of them (``ConcatDataset``, ``RepeatDataset``, ...; each inner data set is
            scanned once). A lazily initialised data set is fully initialised.
        max_samples: scan at most this many samples of each inner data set, evenly spread
            (None: all).
        num_classes: the number of classes the model predicts; labels must be below it and
            below the number of ``metainfo['classes']`` (None: the latter only).
        workers: threads that read and decode files.
        indices: scan these sample indices (of a data set that is no wrapper) instead.
    """
    problems = []
    for name, ds in leaf_datasets(dataset):
        if hasattr(ds, 'full_init'):
            ds.full_init()
        length = len(ds)
        if length == 0:
            root = getattr(ds, 'data_root', '') or getattr(ds, 'ann_file', '') or '?'
            problems.append(DataProblem('dataset', str(root), f'{type(ds).__name__} has no '
                                        'samples; expected at least one', (), name))
            continue
        idx = sample_indices(length, max_samples) if indices is None else list(indices)
        scanner = _Scanner(ds, num_classes)
        # samples that share their files (mmpose: one per person) are checked once
        groups: Dict[tuple, List[int]] = {}
        infos = {}
        for i in idx:
            info = ds.get_data_info(i)
            key = (info.get('img_path'), info.get('seg_map_path'),
                   str(info.get('gt_label')) if 'gt_label' in info else None)
            if key[0] is None and key[1] is None:
                key = ('#', i)  # in-memory sample (CIFAR)
            if key not in groups:
                infos[key] = info
            groups.setdefault(key, []).append(i)
        keys = list(groups)
        with ThreadPoolExecutor(max(1, int(workers))) as pool:
            results = pool.map(lambda k: scanner(infos[k]), keys)
            for key, found in zip(keys, results):
                for kind, path, what in found:
                    problems.append(DataProblem(kind, path, what, tuple(groups[key]), name))
    return problems


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
    """The fewest ``num_classes`` of a built model's segmentation decode heads and mcl_mm
    classification heads; None if it has none."""
    heads = []
    try:
        from mmseg.models.decode_heads.decode_head import BaseDecodeHead
        heads.append(BaseDecodeHead)
    except ImportError:
        pass
    from mcl_mm.models.classifiers.image_classifier import ClsHead
    heads.append(ClsHead)
    found = [m.num_classes for m in model.modules()
             if isinstance(m, tuple(heads)) and isinstance(getattr(m, 'num_classes', None), int)]
    return min(found) if found else None

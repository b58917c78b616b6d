"""Check the training (and validation) data before the first iteration, in bounded time."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook

from mcl_mm.datasets.checks import (
    DEFAULT_MAX_DECODE,
    BadDataError,
    DatasetScan,
    format_problems,
    leaf_datasets,
    model_num_classes,
)
from mcl_mm.registry import HOOKS

POLICIES = ('error', 'skip')


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Checks the training and validation sets at ``before_train``, so that a run does not
    stop hours in on a missing or unreadable file, or train on labels out of range, while the
    check itself stays bounded at any data set size.

    The scan is :class:`mcl_mm.datasets.checks.DatasetScan`, in two steps:

    1. every sample, on every start: each image (and mmseg label map) must exist (symbolic
       links followed), be a regular file this process may read and not be empty; listed
       classification labels must be in ``0..K-1``. A ``stat`` per file, nothing decoded:
       about 1-2 s per 100 000 samples on a local disk. It also computes the data set's
       fingerprint (paths, listed labels, each file's size and modification time, classes,
       settings);
    2. ``max_decode`` evenly spread samples of each data set (default
       :data:`~mcl_mm.datasets.checks.DEFAULT_MAX_DECODE`, 200; all with ``None``) are decoded
       as the pipeline decodes them: images must decode; mmseg label maps must decode, match
       their image's size and hold only class indices ``0..K-1`` and the ignore index (after
       ``reduce_zero_label`` and the data set's ``label_map``). The outcome is recorded in
       ``record_dir`` (default ``<work_dir>/dataset_checks/<fingerprint>.json``): a start
       with the same fingerprint (``--resume``, a restart) reads the record instead of
       decoding again; a data set that changed in any listed file decodes again.

    ``K`` is the number of the data set's classes, or the model's heads' ``num_classes``
    where that is smaller. With several processes each checks and decodes a share, the
    findings are gathered so every process decides the same, and process 0 alone reads (then
    broadcasts) and writes the record. A file corrupted inside (not missing, empty or
    unreadable) outside the decoded sample is found by ``max_decode=None`` or
    ``tools/misc/check_dataset.py CONFIG`` (which decodes every sample).

    In a config::

        custom_hooks = [dict(type='mcl_mm.DatasetCheckHook')]                  # stop on bad data
        custom_hooks = [dict(type='mcl_mm.DatasetCheckHook', policy='skip')]   # drop it
        custom_hooks = [dict(type='mcl_mm.DatasetCheckHook', max_decode=None)] # decode all

    Args:
        splits: which loaders to scan, of ``'train'`` and ``'val'``.
        max_samples: check at most this many samples of each data set, evenly spread
            (None: all). With ``'skip'`` only the checked samples can be dropped.
        policy: ``'error'``: raise :class:`~mcl_mm.datasets.checks.BadDataError` listing the
            bad files (the first ``max_listed`` and the count) before the first iteration.
            ``'skip'``: drop the samples that use a bad file from the data set and log a
            WARNING for each file; the samplers and the data iterator are resized to the rest.
            Bad files found by the decode are remembered with the record, so a resumed run
            drops the same samples. It needs a data set that is no wrapper (``ConcatDataset``
            etc.) and mmengine's ``DefaultSampler``/``InfiniteSampler`` (or a batch sampler
            over them); otherwise it raises, saying so. A data set with no good sample left is
            an error too.
        max_listed: how many problems an error message lists.
        num_classes: the number of classes labels must be below (None: from the data set's
            ``metainfo`` and the model's segmentation/classification heads).
        workers: threads that decode files (per process).
        file_workers: threads of the file check (per process): 1, fastest on a local disk
            (the check is bound by Python's work per sample); more on a network file system
            to overlap the server's latency.
        max_decode: samples of each data set to decode, evenly spread (None: all; 0: none,
            only the file check).
        remember: read and write the records of completed decodes (False: decode on every
            start).
        record_dir: where the records go (None: ``<work_dir>/dataset_checks``). A folder
            shared by several runs (e.g. next to the data) lets them share the records.
    """
    priority = 'VERY_HIGH'

    def __init__(self,
                 splits: Sequence[str] = ('train', 'val'),
                 max_samples: Optional[int] = None,
                 policy: str = 'error',
                 max_listed: int = 20,
                 num_classes: Optional[int] = None,
                 workers: int = 4,
                 max_decode: Optional[int] = DEFAULT_MAX_DECODE,
                 remember: bool = True,
                 record_dir: Optional[str] = None,
                 file_workers: int = 1):
        if policy not in POLICIES:
            raise ValueError(f"DatasetCheckHook: policy must be one of {POLICIES}, got "
                             f'{policy!r}')
        splits = (splits, ) if isinstance(splits, str) else tuple(splits)
        bad = [s for s in splits if s not in ('train', 'val')]
        if bad:
            raise ValueError(f"DatasetCheckHook: splits must be some of ('train', 'val'), got "
                             f'{bad}')
        if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 1):
            raise ValueError(f'DatasetCheckHook: max_samples must be None or a positive int, '
                             f'got {max_samples!r}')
        if max_decode is not None and (not isinstance(max_decode, int) or max_decode < 0):
            raise ValueError(f'DatasetCheckHook: max_decode must be None (decode every sample) '
                             f'or an int >= 0, got {max_decode!r}')
        self.splits = splits
        self.max_samples = max_samples
        self.policy = policy
        self.max_listed = max_listed
        self.num_classes = num_classes
        self.workers = workers
        if not isinstance(file_workers, int) or file_workers < 1:
            raise ValueError(f'DatasetCheckHook: file_workers must be an int >= 1, got '
                             f'{file_workers!r}')
        self.file_workers = file_workers
        self.max_decode = max_decode
        self.remember = remember
        self.record_dir = record_dir

    def before_train(self, runner) -> None:
        num_classes = self.num_classes
        if num_classes is None:
            model = getattr(runner.model, 'module', runner.model)
            num_classes = model_num_classes(model)
        for split in self.splits:
            loop = runner.train_loop if split == 'train' else runner.val_loop
            if loop is None:
                continue
            self._check(runner, split, loop, num_classes)

    def _record_dir(self, runner) -> Optional[str]:
        if not self.remember:
            return None
        if self.record_dir is not None:
            return self.record_dir
        work_dir = getattr(runner, 'work_dir', None)
        return osp.join(work_dir, 'dataset_checks') if work_dir else None

    def _check(self, runner, split, loop, num_classes):
        dataset = loop.dataloader.dataset
        scan = DatasetScan(dataset, num_classes, self.max_samples, self.max_decode,
                           self.workers, file_workers=self.file_workers)
        result = scan.run(self._record_dir(runner))
        problems = result.problems
        if not problems:
            runner.logger.info(f'DatasetCheckHook: {split} set: {result.summary()}; no '
                               'problems')
            return
        runner.logger.info(f'DatasetCheckHook: {split} set: {result.summary()}; '
                           f'{len(problems)} problem(s)')
        if self.policy == 'error':
            raise BadDataError(
                f'DatasetCheckHook: {len(problems)} problem(s) in the {split} set '
                f'({split}_dataloader.dataset), found before training:\n'
                f'{format_problems(problems, self.max_listed)}\n'
                'Fix or remove these files, or set policy=\'skip\' in the hook to drop those '
                'samples; tools/misc/check_dataset.py CONFIG lists every problem.')
        self._skip(runner, split, loop, problems)

    def _skip(self, runner, split, loop, problems):
        loader = loop.dataloader
        dataset = loader.dataset
        leaves = leaf_datasets(dataset)
        if len(leaves) > 1 or leaves[0][1] is not dataset or not hasattr(dataset, 'get_subset_'):
            raise BadDataError(
                f'DatasetCheckHook(policy=\'skip\'): {type(dataset).__name__} of the {split} '
                'set is a wrapper (or has no get_subset_); skipping is supported for a plain '
                f"mmengine BaseDataset only. {len(problems)} problem(s):\n"
                f'{format_problems(problems, self.max_listed)}')
        samplers = _mmengine_samplers(loader, split)
        drop = set()
        for p in problems:
            if not p.indices:  # the whole data set (empty): nothing to skip
                raise BadDataError(f'DatasetCheckHook: {split} set: {p}')
            runner.logger.warning(f'DatasetCheckHook: skipping {len(p.indices)} {split} '
                                  f'sample(s) of {p}')
            drop.update(p.indices)
        keep = [i for i in range(len(dataset)) if i not in drop]
        if not keep:
            raise BadDataError(f'DatasetCheckHook: every sample of the {split} set has a bad '
                               f'file ({len(problems)} problems):\n'
                               f'{format_problems(problems, self.max_listed)}')
        before = len(dataset)
        dataset.get_subset_(keep)
        for sampler in samplers:
            _resize_sampler(sampler)
        batch_sampler = getattr(loader, 'batch_sampler', None)
        if hasattr(batch_sampler, '_aspect_ratio_buckets'):  # mmdet's AspectRatioBatchSampler
            batch_sampler._aspect_ratio_buckets = [[] for _ in batch_sampler._aspect_ratio_buckets]
        _restart_iteration(loop, loader)
        runner.logger.warning(f'DatasetCheckHook: {split} set: skipped {before - len(dataset)} '
                              f'of {before} samples ({len(problems)} bad file(s)); '
                              f'{len(dataset)} left')


def _mmengine_samplers(loader, split):
    """The loader's samplers that depend on the data set's length, checked to be ones this
    hook can resize."""
    from mmengine.dataset import DefaultSampler, InfiniteSampler
    from torch.utils.data import RandomSampler, SequentialSampler
    found = []
    batch_sampler = getattr(loader, 'batch_sampler', None)
    for sampler in (getattr(loader, 'sampler', None), getattr(batch_sampler, 'sampler', None)):
        if sampler is None or any(sampler is s for s in found):
            continue
        if isinstance(sampler, (DefaultSampler, InfiniteSampler)):
            found.append(sampler)
        elif type(sampler) not in (SequentialSampler, RandomSampler):  # these follow the set
            raise BadDataError(
                f"DatasetCheckHook(policy='skip'): the {split} loader's sampler "
                f'{type(sampler).__name__} cannot be resized after dropping samples; skipping '
                'is supported with DefaultSampler and InfiniteSampler')
    return found


def _resize_sampler(sampler) -> None:
    """Recompute what mmengine's samplers derive from ``len(dataset)`` in ``__init__``."""
    import math

    from mmengine.dataset import InfiniteSampler
    if isinstance(sampler, InfiniteSampler):
        sampler.size = len(sampler.dataset)
        sampler.indices = sampler._indices_of_rank()
        return
    n, world_size, rank = len(sampler.dataset), sampler.world_size, sampler.rank
    if sampler.round_up:
        sampler.num_samples = math.ceil(n / world_size)
        sampler.total_size = sampler.num_samples * world_size
    else:
        sampler.num_samples = math.ceil((n - rank) / world_size)
        sampler.total_size = n


def _restart_iteration(loop, loader) -> None:
    """Drop data iterators (and their worker processes, which hold a copy of the data set)
    made before the data set shrank."""
    from mmengine.runner.loops import _InfiniteDataloaderIterator
    stale = [getattr(loader, '_iterator', None)]
    infinite = getattr(loop, 'dataloader_iterator', None)
    if isinstance(infinite, _InfiniteDataloaderIterator):
        stale.append(infinite._iterator)
    for it in stale:
        if it is not None and hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()
    if getattr(loader, '_iterator', None) is not None:
        loader._iterator = None  # persistent workers: a new iterator starts new ones
    if isinstance(infinite, _InfiniteDataloaderIterator):
        loop.dataloader_iterator = _InfiniteDataloaderIterator(loader)
    if hasattr(loop, '_max_epochs') and not isinstance(infinite, _InfiniteDataloaderIterator):
        loop._max_iters = loop._max_epochs * len(loader)  # EpochBasedTrainLoop

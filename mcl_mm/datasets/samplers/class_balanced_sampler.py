"""m images per class in a row, so every batch holds same-class pairs (MCL's sampler)."""
import math
from typing import Iterator, List, Optional, Sized

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mcl_mm.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """Yield groups of ``samples_per_class`` indices of one class each.

    The supervised contrastive losses of MCL need positives (images of the same class) in a
    batch; the reference code samples batches with ``MPerClassSampler(m=2)``
    (``dataset/class_sampler.py``). This sampler does the same per epoch, as mmengine's
    ``DefaultSampler`` does:

    - An epoch has ``G = ceil(len(dataset) / m / world_size) * world_size`` groups, so about
      one pass over the data. Each group is ``m`` indices of one class; the classes of
      consecutive groups go through the classes in a random order (a new one per pass), so
      every class gets as many groups as any other, up to one. Within a class the images are
      taken from a shuffled queue, refilled when used up: each image is drawn once before
      any is drawn again; a class with fewer than ``m`` images repeats some in a group.
    - Rank ``r`` of ``world_size`` gets groups ``r, r + world_size, ...`` (whole groups, so
      each rank's batches keep their pairs); ``len(sampler) = G / world_size * m``.
    - The order depends only on ``seed`` and the epoch (``set_epoch``, called by the
      training loops): the same on every rank, different per epoch. ``shuffle=False`` gives
      classes and images in index order.

    Use a batch size that is a multiple of ``samples_per_class``, so that the groups are not
    split across batches. Class labels come from ``dataset.get_cat_ids(i)`` (its first
    entry), which mmpretrain's data sets (``ImageNet``, ``CIFAR100``) provide.

    In a config: ``train_dataloader = dict(batch_size=64, sampler=dict(
    type='mcl_mm.ClassBalancedSampler', samples_per_class=2), ...)``.

    Args:
        dataset (Sized): the data set; must implement ``get_cat_ids``.
        samples_per_class (int): m, the images of a class in a row.
        seed (int, optional): random seed; None takes a seed synchronised across ranks
            (the Runner passes the config's seed).
        shuffle (bool): random class and image order.
    """

    def __init__(self,
                 dataset: Sized,
                 samples_per_class: int = 2,
                 seed: Optional[int] = None,
                 shuffle: bool = True) -> None:
        if not isinstance(samples_per_class, int) or samples_per_class < 1:
            raise ValueError(f'sampler.samples_per_class must be a positive int, got '
                             f'{samples_per_class!r}')
        if len(dataset) == 0:
            raise ValueError('ClassBalancedSampler: the data set is empty')
        if not hasattr(dataset, 'get_cat_ids'):
            raise ValueError(f'ClassBalancedSampler needs a data set with get_cat_ids(idx), '
                             f'got {type(dataset).__name__}')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.samples_per_class = samples_per_class
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        labels = np.array([dataset.get_cat_ids(i)[0] for i in range(len(dataset))])
        self.classes = np.unique(labels)
        self.class_indices = [np.flatnonzero(labels == c) for c in self.classes]
        groups = math.ceil(len(dataset) / samples_per_class / self.world_size)
        self.num_groups = groups * self.world_size
        self.num_samples = groups * samples_per_class

    def group_indices(self) -> List[np.ndarray]:
        """All ranks' groups of this epoch: ``num_groups`` arrays of ``m`` indices."""
        rng = np.random.default_rng([self.seed, self.epoch])
        m = self.samples_per_class
        queues = [np.empty(0, int) for _ in self.classes]
        groups, order = [], []
        for _ in range(self.num_groups):
            if not order:
                order = list(rng.permutation(len(self.classes)) if self.shuffle else
                             range(len(self.classes)))[::-1]
            c = order.pop()
            while len(queues[c]) < m:  # refill: each image once before any repeats
                pool = self.class_indices[c]
                queues[c] = np.concatenate([queues[c], rng.permutation(pool) if self.shuffle
                                            else pool])
            groups.append(queues[c][:m])
            queues[c] = queues[c][m:]
        return groups

    def __iter__(self) -> Iterator[int]:
        groups = self.group_indices()[self.rank::self.world_size]
        return iter(int(i) for group in groups for i in group)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which changes the order (called by the training loops)."""
        self.epoch = epoch

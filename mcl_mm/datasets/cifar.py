"""CIFAR-100 from the pickles of the python release (``cifar-100-python.tar.gz``)."""
import os.path as osp
import pickle
from typing import List, Optional

import numpy as np
from mmengine.dataset import BaseDataset

from mcl_mm.registry import DATASETS

# The 20 superclasses and their 5 classes each, as listed on the CIFAR page. The fine and the
# coarse label names of the release's ``meta`` are these names sorted (labels 0..99, 0..19).
CIFAR100_SUPERCLASSES = (
    ('aquatic_mammals', ('beaver', 'dolphin', 'otter', 'seal', 'whale')),
    ('fish', ('aquarium_fish', 'flatfish', 'ray', 'shark', 'trout')),
    ('flowers', ('orchid', 'poppy', 'rose', 'sunflower', 'tulip')),
    ('food_containers', ('bottle', 'bowl', 'can', 'cup', 'plate')),
    ('fruit_and_vegetables', ('apple', 'mushroom', 'orange', 'pear', 'sweet_pepper')),
    ('household_electrical_devices', ('clock', 'keyboard', 'lamp', 'telephone', 'television')),
    ('household_furniture', ('bed', 'chair', 'couch', 'table', 'wardrobe')),
    ('insects', ('bee', 'beetle', 'butterfly', 'caterpillar', 'cockroach')),
    ('large_carnivores', ('bear', 'leopard', 'lion', 'tiger', 'wolf')),
    ('large_man-made_outdoor_things', ('bridge', 'castle', 'house', 'road', 'skyscraper')),
    ('large_natural_outdoor_scenes', ('cloud', 'forest', 'mountain', 'plain', 'sea')),
    ('large_omnivores_and_herbivores', ('camel', 'cattle', 'chimpanzee', 'elephant',
                                        'kangaroo')),
    ('medium_mammals', ('fox', 'porcupine', 'possum', 'raccoon', 'skunk')),
    ('non-insect_invertebrates', ('crab', 'lobster', 'snail', 'spider', 'worm')),
    ('people', ('baby', 'boy', 'girl', 'man', 'woman')),
    ('reptiles', ('crocodile', 'dinosaur', 'lizard', 'snake', 'turtle')),
    ('small_mammals', ('hamster', 'mouse', 'rabbit', 'shrew', 'squirrel')),
    ('trees', ('maple_tree', 'oak_tree', 'palm_tree', 'pine_tree', 'willow_tree')),
    ('vehicles_1', ('bicycle', 'bus', 'motorcycle', 'pickup_truck', 'train')),
    ('vehicles_2', ('lawn_mower', 'rocket', 'streetcar', 'tank', 'tractor')),
)
CIFAR100_CLASSES = tuple(sorted(f for _, fine in CIFAR100_SUPERCLASSES for f in fine))
CIFAR100_COARSE_CLASSES = tuple(sorted(c for c, _ in CIFAR100_SUPERCLASSES))
CIFAR100_FINE_TO_COARSE = tuple(  # coarse label of each fine label
    next(CIFAR100_COARSE_CLASSES.index(c) for c, fine in CIFAR100_SUPERCLASSES if f in fine)
    for f in CIFAR100_CLASSES)
CIFAR_BASE_FOLDER = 'cifar-100-python'
CIFAR_SPLITS = ('train', 'test')


def load_cifar_pickle(path: str) -> dict:
    """A CIFAR pickle (written by Python 2) as a dict with str keys; str values stay bytes."""
    with open(path, 'rb') as f:
        data = pickle.load(f, encoding='bytes')
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


@DATASETS.register_module()
class CIFAR100Dataset(BaseDataset):
    """CIFAR-100 (fine labels), read from the python release::

        data_root/cifar-100-python/train   pickle: b'data' (50000, 3072) uint8 (the R, G, B
                                           planes of each 32x32 image), b'fine_labels',
                                           b'coarse_labels', b'filenames', b'batch_label'
        data_root/cifar-100-python/test    the same, 10000 images
        data_root/cifar-100-python/meta    b'fine_label_names', b'coarse_label_names'

    (``data_root`` may also be the ``cifar-100-python`` folder itself). The images are
    decoded up front: each data info is ``dict(img=(32, 32, 3) uint8 BGR array, gt_label=int,
    img_shape=(32, 32), ori_shape=(32, 32))`` -- what ``LoadImageFromFile`` would give -- so a
    pipeline starts with the augmentations, e.g. ``[dict(type='mcl_mm.RandomCropPad',
    size=32, padding=4), dict(type='RandomFlip', prob=0.5), dict(type='mcl_mm.PackClsInputs')]``.

    ``metainfo['classes']`` are the ``meta`` file's fine label names unless ``metainfo``
    gives classes.

    Args:
        data_root (str): the folder holding ``cifar-100-python/``.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: other ``mmengine.dataset.BaseDataset`` arguments.
    """
    METAINFO = dict(classes=CIFAR100_CLASSES)

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if split not in CIFAR_SPLITS:
            raise ValueError(f'split={split!r}: expected one of {CIFAR_SPLITS}')
        if kwargs.get('ann_file'):
            raise ValueError('CIFAR100Dataset reads data_root/cifar-100-python/{train,test}; '
                             'give split instead of ann_file')
        self.split = split
        self._classes_given = bool(metainfo and 'classes' in metainfo)
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    def _folder(self) -> str:
        for folder in (osp.join(self.data_root, CIFAR_BASE_FOLDER), self.data_root):
            if all(osp.isfile(osp.join(folder, name)) for name in (self.split, 'meta')):
                return folder
        raise FileNotFoundError(
            f'data_root: no CIFAR-100 pickles in {self.data_root!r}: expected '
            f'{osp.join(self.data_root, CIFAR_BASE_FOLDER)}/{{{self.split},meta}}, the layout '
            f'of cifar-100-python.tar.gz')

    def load_data_list(self) -> List[dict]:
        folder = self._folder()
        split = load_cifar_pickle(osp.join(folder, self.split))
        meta = load_cifar_pickle(osp.join(folder, 'meta'))
        path = osp.join(folder, self.split)
        for key in ('data', 'fine_labels'):
            if key not in split:
                raise ValueError(f"{path}: no b'{key}' (keys: {sorted(split)})")
        data, labels = np.asarray(split['data']), np.asarray(split['fine_labels'])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError(f"{path}: b'data' must be uint8 (N, 3072), got {data.dtype} "
                             f'{data.shape}')
        if labels.shape != (len(data), ):
            raise ValueError(f"{path}: {len(labels)} b'fine_labels' for {len(data)} images")
        if not self._classes_given:
            if 'fine_label_names' not in meta:
                raise ValueError(f"{osp.join(folder, 'meta')}: no b'fine_label_names'")
            self._metainfo['classes'] = tuple(
                n.decode() if isinstance(n, bytes) else n for n in meta['fine_label_names'])
        num_classes = len(self._metainfo['classes'])
        if len(labels) and not (0 <= labels.min() and labels.max() < num_classes):
            raise ValueError(f"{path}: fine labels {labels.min()}..{labels.max()} out of range "
                             f'for {num_classes} classes')
        # (N, 3, 32, 32) RGB planes -> (N, 32, 32, 3) BGR, as cv2 reads images
        imgs = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)[..., ::-1])
        return [dict(img=img, gt_label=int(label), img_shape=(32, 32), ori_shape=(32, 32))
                for img, label in zip(imgs, labels)]

    def get_cat_ids(self, idx: int) -> List[int]:
        """``[label]`` of image ``idx`` (for class-aware samplers)."""
        return [int(self.get_data_info(idx)['gt_label'])]

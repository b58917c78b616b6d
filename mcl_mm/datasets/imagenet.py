"""ImageNet (ILSVRC-2012) in its folder layout, for ``mcl_mm.ImageClassifier``."""
import os
import os.path as osp
from typing import List, Optional, Union

from mmengine.dataset import BaseDataset

from mcl_mm.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class ImageNetDataset(BaseDataset):
    """ImageNet-style classification data: images in class folders, with or without a list.

    With ``ann_file`` (the layout ``tools/misc/make_synthetic_data.py imagenet`` writes, and
    mmpretrain's ``meta/{train,val}.txt``)::

        data_root/meta/train.txt     lines '<path relative to data_prefix> <label>', e.g.
                                     'n01440764/n01440764_1.JPEG 0'
        data_root/train/n01440764/n01440764_1.JPEG

    Without ``ann_file``, the class folders under ``data_prefix['img_path']`` are listed in
    sorted order and numbered 0, 1, ...; every image below a folder (by extension,
    recursively) gets that folder's label.

    ``metainfo['classes']``: given in ``metainfo``; else the sorted folder names (without
    ``ann_file``), or, with ``ann_file``, the folder each label's images are in when that is
    one folder per label (the wnids for ImageNet), else ``'0', '1', ...``.

    A data info is ``dict(img_path=..., gt_label=int)`` (plus ``sample_idx``), for the
    stock ``LoadImageFromFile`` and ``mcl_mm.PackClsInputs``.

    In a config (``default_scope='mmseg'``, ``custom_imports=dict(imports=['mcl_mm'])``)::

        dict(type='mcl_mm.ImageNetDataset', data_root='data/imagenet',
             ann_file='meta/train.txt', data_prefix=dict(img_path='train'), pipeline=[...])

    Args:
        data_root (str): root folder; ``ann_file`` and ``data_prefix`` are relative to it.
        ann_file (str): image list, or ``''`` to scan class folders.
        data_prefix (dict | str): ``dict(img_path=FOLDER)`` (a str is taken as FOLDER).
        **kwargs: other ``mmengine.dataset.BaseDataset`` arguments (``pipeline``,
            ``metainfo``, ``test_mode``, ``indices``, ``lazy_init``, ...).
    """
    METAINFO = dict()

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 data_prefix: Union[dict, str] = '',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        if not isinstance(data_prefix, dict) or set(data_prefix) != {'img_path'}:
            raise ValueError(f"data_prefix must be dict(img_path=FOLDER) or a str, got "
                             f'{data_prefix!r}')
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
            metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.data_root and not osp.isdir(self.data_root):
            raise FileNotFoundError(f'data_root: {self.data_root} is not a folder')
        img_dir = self.data_prefix['img_path']
        if self.ann_file:
            samples = self._read_ann_file(img_dir)
        else:
            samples = self._scan_folders(img_dir)
        classes = self._metainfo.get('classes')
        if classes:
            bad = [label for _, label in samples if not 0 <= label < len(classes)]
            if bad:
                raise ValueError(f'{self.ann_file or img_dir}: label {bad[0]} is out of range '
                                 f"for metainfo['classes'] ({len(classes)} classes)")
        return [dict(img_path=path, gt_label=label) for path, label in samples]

    def _read_ann_file(self, img_dir: str) -> list:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'ann_file: {self.ann_file} not found '
                                    f'(data_root={self.data_root!r})')
        samples = []
        with open(self.ann_file) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].isdigit():
                    raise ValueError(f'ann_file {self.ann_file} line {n}: expected '
                                     f"'<image path> <label>' (label >= 0), got "
                                     f'{line.strip()!r}')
                samples.append((osp.join(img_dir, parts[0]), int(parts[1])))
        if not samples:
            raise ValueError(f'ann_file: {self.ann_file} lists no images')
        if not self._metainfo.get('classes'):
            self._metainfo['classes'] = self._classes_from_paths(samples, img_dir)
        return samples

    @staticmethod
    def _classes_from_paths(samples: list, img_dir: str) -> tuple:
        """Each label's folder name if every label has one folder, else '0', '1', ..."""
        folders = {}
        for path, label in samples:
            rel = osp.relpath(path, img_dir) if img_dir else path
            folders.setdefault(label, set()).add(osp.dirname(rel))
        num = max(folders) + 1
        names = [next(iter(folders[k])) if len(folders.get(k, ())) == 1 else '' for k in
                 range(num)]
        if all(names) and len(set(names)) == num:
            return tuple(names)
        return tuple(str(k) for k in range(num))

    def _scan_folders(self, img_dir: str) -> list:
        if not osp.isdir(img_dir or '.'):
            raise FileNotFoundError(f"data_prefix['img_path']: {img_dir} is not a folder "
                                    f'(data_root={self.data_root!r})')
        folders = sorted(d.name for d in os.scandir(img_dir or '.') if d.is_dir())
        if not folders:
            raise ValueError(f"data_prefix['img_path']: {img_dir} has no class folders; give "
                             f"ann_file or the layout <img_path>/<class>/<image>")
        classes = self._metainfo.get('classes')
        if classes and len(classes) != len(folders):
            raise ValueError(f"metainfo['classes'] has {len(classes)} classes but "
                             f'{img_dir} has {len(folders)} class folders')
        if not classes:
            self._metainfo['classes'] = tuple(folders)
        samples = []
        for label, folder in enumerate(folders):
            for root, dirs, files in os.walk(osp.join(img_dir, folder)):
                dirs.sort()
                samples += [(osp.join(root, name), label) for name in sorted(files)
                            if name.lower().endswith(IMG_EXTENSIONS)]
        if not samples:
            raise ValueError(f"data_prefix['img_path']: no images ({', '.join(IMG_EXTENSIONS)})"
                             f' in the class folders of {img_dir}')
        return samples

    def get_cat_ids(self, idx: int) -> List[int]:
        """``[label]`` of image ``idx`` (for class-aware samplers)."""
        return [int(self.get_data_info(idx)['gt_label'])]

"""mmpretrain's ``CIFAR100`` for the synthetic CIFAR-100 set of mcl_mm's generator."""
import json
import os.path as osp
from typing import List

from mmengine.fileio import join_path
from mmpretrain.datasets import CIFAR100
from mmpretrain.datasets.utils import check_md5

from mcl_mm.registry import DATASETS
from mcl_mm.testing.synthetic_data import CIFAR100_FILES, CIFAR100_MANIFEST

MAKE_COMMAND = 'python tools/misc/make_synthetic_data.py cifar100'


@DATASETS.register_module()
class SyntheticCIFAR100(CIFAR100):
    """mmpretrain's ``CIFAR100``, checking the synthetic set's own md5 sums instead of the
    release's.

    ``mcl_mm.testing.synthetic_data.make_cifar100`` (``tools/misc/make_synthetic_data.py
    cifar100 OUT``) writes the pickles of ``cifar-100-python.tar.gz`` in their real layout,
    but with other images, so mmpretrain's ``CIFAR100`` rejects them (its md5 check) and, with
    ``download=True``, would download the release over them. The generator writes the md5
    sums of its three pickles into ``OUT/cifar-100-python.synthetic.json``; this class reads
    that manifest, checks each pickle against it (an error names the file, the expected and
    the found sum) and then loads them exactly as the stock class does: data infos
    ``dict(img=(32, 32, 3) uint8 RGB array, gt_label=int)``, ``metainfo['classes']`` the 100
    fine class names (mmpretrain's ``CIFAR100_CATEGORIES``, the release's order). It never
    downloads. Configs of the real data set use the stock ``CIFAR100``, unchanged.

    In a config (``default_scope='mmpretrain'``, ``custom_imports=dict(imports=['mcl_mm'])``)::

        dataset=dict(type='mcl_mm.SyntheticCIFAR100', data_root='data/synthetic/cifar100',
                     split='train', pipeline=[...])

    Args:
        data_root (str): the folder holding ``cifar-100-python/`` and the manifest.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: other arguments of mmpretrain's ``CIFAR100`` but ``download``.
    """

    def __init__(self, data_root: str = '', split: str = 'train', **kwargs) -> None:
        if kwargs.pop('download', False):
            raise ValueError(f'SyntheticCIFAR100 download=True: a synthetic set is made, not '
                             f'downloaded ({MAKE_COMMAND} DATA_ROOT); the real CIFAR-100 is '
                             f"type='CIFAR100'")
        super().__init__(data_root=data_root, split=split, download=False, **kwargs)

    @property
    def manifest_path(self) -> str:
        return join_path(self.data_prefix['root'], CIFAR100_MANIFEST)

    def read_manifest(self) -> dict:
        """``{'train': md5, 'test': md5, 'meta': md5}`` from the manifest; each pickle checked
        against it."""
        path = self.manifest_path
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'data_root: no {CIFAR100_MANIFEST} in {self.data_prefix["root"]!r}: expected a '
                f'synthetic CIFAR-100 set made by {MAKE_COMMAND} DATA_ROOT (for the real '
                f"release use type='CIFAR100')")
        try:
            with open(path) as f:
                sums = json.load(f)['md5']
            sums = {name: str(sums[name]) for name in CIFAR100_FILES}
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f'{path}: expected {{"md5": {{"train": ..., "test": ..., '
                             f'"meta": ...}}}}, as the generator writes it ({e!r})') from e
        for name, md5 in sums.items():
            pickle_path = join_path(self.data_prefix['root'], self.base_folder, name)
            if not osp.isfile(pickle_path):
                raise FileNotFoundError(f'{pickle_path} does not exist (listed in {path})')
            if not check_md5(pickle_path, md5):
                raise ValueError(f'{pickle_path}: its md5 sum is not the {md5} of {path}: the '
                                 f'file changed after the set was made; make the set again '
                                 f'({MAKE_COMMAND} DATA_ROOT)')
        return sums

    def load_data_list(self) -> List[dict]:
        sums = self.read_manifest()
        # the stock integrity check and meta loading then compare against these sums
        self.train_list = [['train', sums['train']]]
        self.test_list = [['test', sums['test']]]
        self.meta = dict(self.meta, md5=sums['meta'])
        return super().load_data_list()

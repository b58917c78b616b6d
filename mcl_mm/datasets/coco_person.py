"""Every COCO person box, for HSJP's jigsaw pretext (``mcl_mm.CocoPersonJigsawDataset``)."""
from typing import Optional

from mmpose.datasets import CocoDataset

from mcl_mm.datasets.transforms.jigsaw import check_grid
from mcl_mm.registry import DATASETS


def jigsaw_metainfo(grid=(4, 3), dataset_name: str = 'coco_person_jigsaw') -> dict:
    """mmpose pose metainfo with one pseudo-keypoint per cell of a (rows, cols) grid.

    Keypoint ``k`` is cell ``cell_{r}_{c}`` (r = k // cols, c = k % cols). ``swap`` pairs a
    cell with its horizontal mirror (r, cols - 1 - c), which makes mmpose's flip test exact:
    flipping a shuffled crop shows mirrored cell (r, cols - 1 - c) at the mirrored slot. (In
    training ``RandomFlip`` runs before ``JigsawShuffle``, which writes the labels of the
    flipped crop, so the swap does not matter there.) Joint weights are 1 and the sigmas a
    dummy 0.05: there is no OKS for pseudo-keypoints, the pretext is scored by
    ``mcl_mm.PuzzleAccuracy``. The skeleton links neighbouring cells (for drawing; an empty
    one would put a zero-length array in the checkpoint meta, which protocol-2 pickling writes
    as the global ``bytes`` that ``torch.load(weights_only=True)`` refuses).
    """
    rows, cols = check_grid(grid, 'grid')
    num = rows * cols
    names = [f'cell_{k // cols}_{k % cols}' for k in range(num)]
    colours = [[int(255 * (k + 1) / num), 128, int(255 * (num - k) / num)] for k in range(num)]
    keypoint_info = {
        k: dict(name=names[k], id=k, color=colours[k], type='upper' if k // cols < rows / 2
                else 'lower', swap=names[(k // cols) * cols + cols - 1 - k % cols])
        for k in range(num)}
    links = [(k, k + 1) for k in range(num) if k % cols < cols - 1]
    links += [(k, k + cols) for k in range(num - cols)]
    skeleton_info = {i: dict(link=(names[a], names[b]), id=i, color=[96, 96, 255])
                     for i, (a, b) in enumerate(links)}
    return dict(dataset_name=dataset_name, keypoint_info=keypoint_info,
                skeleton_info=skeleton_info, joint_weights=[1.0] * num, sigmas=[0.05] * num)


@DATASETS.register_module()
class CocoPersonJigsawDataset(CocoDataset):
    """Every non-crowd person box of a COCO keypoints or instances file, one sample each.

    The stock ``CocoDataset`` keeps only boxes with keypoints; HSJP needs no keypoints and
    uses all person boxes, also those annotated with ``num_keypoints=0``. Crowd boxes
    (``iscrowd=1``), boxes of other categories (instances files) and boxes with no area
    after clipping to the image (or smaller than ``min_box_size``) are dropped. Each sample
    carries K = rows * cols all-zero keypoints, which ``mcl_mm.JigsawShuffle`` replaces by
    the puzzle's labels, and the metainfo of :func:`jigsaw_metainfo` (K pseudo-keypoints,
    mirror flip indices, dummy sigmas).

    In a config (``default_scope='mmpose'``, ``custom_imports=dict(imports=['mcl_mm'])``)::

        dict(type='mcl_mm.CocoPersonJigsawDataset', grid=(4, 3), data_root='data/coco/',
             ann_file='annotations/person_keypoints_train2017.json',
             data_prefix=dict(img='train2017/'), pipeline=[...])

    Args:
        grid (tuple[int, int]): (rows, cols) of the puzzle, the same as ``JigsawShuffle``'s.
        min_box_size (float): drop boxes whose clipped width or height is below this many
            pixels. Default 0 (keep every box with an area).
        **kwargs: ``CocoDataset``'s arguments; ``data_mode`` must be ``'topdown'`` and
            ``metainfo`` defaults to ``jigsaw_metainfo(grid)``.
    """

    def __init__(self, grid=(4, 3), min_box_size: float = 0.0,
                 metainfo: Optional[dict] = None, **kwargs):
        self.grid = check_grid(grid, 'CocoPersonJigsawDataset.grid')
        if kwargs.get('data_mode', 'topdown') != 'topdown':
            raise ValueError("CocoPersonJigsawDataset.data_mode must be 'topdown' (one "
                             f"person box per sample), got {kwargs['data_mode']!r}")
        if min_box_size < 0:
            raise ValueError(
                f'CocoPersonJigsawDataset.min_box_size must be >= 0, got {min_box_size!r}')
        self.min_box_size = float(min_box_size)
        if metainfo is None:
            metainfo = jigsaw_metainfo(self.grid)
        super().__init__(metainfo=metainfo, **kwargs)
        num = self.metainfo['num_keypoints']
        if num != self.grid[0] * self.grid[1]:
            raise ValueError(f'CocoPersonJigsawDataset.metainfo has {num} keypoints, the grid '
                             f'{self.grid} has {self.grid[0] * self.grid[1]} cells')

    def _person_category_ids(self):
        cats = self.coco.dataset.get('categories', [])
        ids = {c['id'] for c in cats if c.get('name') == 'person'}
        return ids or {c['id'] for c in cats}

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """The stock parsing with K all-zero keypoints in place of the annotation's; None for
        other categories than person and for annotations without a box."""
        ann = raw_data_info['raw_ann_info']
        if 'bbox' not in ann:
            return None
        if not hasattr(self, '_person_ids'):
            self._person_ids = self._person_category_ids()
        if ann.get('category_id') not in self._person_ids:
            return None
        num = self.grid[0] * self.grid[1]
        ann = dict(ann, keypoints=[0] * (3 * num), num_keypoints=0)
        info = super().parse_data_info(dict(raw_data_info, raw_ann_info=ann))
        info['raw_ann_info'] = raw_data_info['raw_ann_info']
        info['jigsaw_grid'] = self.grid  # for JigsawShuffle(grid=None)
        return info

    def _get_topdown_data_infos(self, instance_list):
        """Keep non-crowd boxes with a positive clipped width and height (>= min_box_size)."""
        kept = []
        for info in instance_list:
            if info.get('iscrowd', 0):
                continue
            w, h = (info['bbox'][0, 2:] - info['bbox'][0, :2]).tolist()
            if w > 0 and h > 0 and w >= self.min_box_size and h >= self.min_box_size:
                kept.append(info)
        return kept

    def load_data_list(self):
        if hasattr(self, '_person_ids'):
            del self._person_ids
        data_list = super().load_data_list()
        if hasattr(self, '_person_ids'):
            del self._person_ids
        return data_list

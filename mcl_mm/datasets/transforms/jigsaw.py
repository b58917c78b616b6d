"""HSJP's pretext transform: cut a top-down crop into a grid of cells and shuffle them.

HSJP (arXiv 2012.07101) pre-trains a pose backbone by asking, for every original cell ``k``
of a person crop, for a heatmap that peaks at the slot where cell ``k`` now lies. Those are
exactly keypoint heatmaps, so :class:`JigsawShuffle` writes K = rows * cols pseudo-keypoints
(the slot centres) and the stock ``GenerateTarget``/``HeatmapHead``/``KeypointMSELoss`` do the
rest. Place it after ``TopdownAffine`` (and after any ``RandomFlip``) and before
``GenerateTarget``.

Conventions (``H, W`` the crop size, cells ``ch = H // rows`` by ``cw = W // cols``): cell and
slot ``k`` is row ``k // cols``, column ``k % cols``, row-major; ``perm[k]`` is the slot that
holds original cell ``k``; the pseudo-keypoint of cell ``k`` is the centre of slot
``perm[k]``, ``((c + 0.5) * cw, (r + 0.5) * ch)`` in crop coordinates (x, y).
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mcl_mm.registry import TRANSFORMS

JIGSAW_META_KEYS = ('jigsaw_grid', 'jigsaw_perm')


def check_grid(grid, name: str = 'grid') -> Tuple[int, int]:
    """``grid`` as ``(rows, cols)`` of positive ints, or a ValueError naming ``name``."""
    if (not isinstance(grid, (tuple, list)) or len(grid) != 2
            or not all(isinstance(g, (int, np.integer)) and g > 0 for g in grid)
            or grid[0] * grid[1] < 2):
        raise ValueError(f'{name} must be (rows, cols), two positive ints with at least 2 '
                         f'cells, got {grid!r}')
    return int(grid[0]), int(grid[1])


def cell_size(image_hw: Sequence[int], grid: Sequence[int], what: str = 'the crop'):
    """(ch, cw) of the cells of an ``image_hw`` = (H, W) crop cut into ``grid`` = (rows, cols).

    Raises:
        ValueError: if the grid does not divide the crop.
    """
    (h, w), (rows, cols) = image_hw[:2], grid
    if h % rows or w % cols:
        raise ValueError(
            f'JigsawShuffle grid=(rows, cols)=({rows}, {cols}) must divide {what} (H, W)=({h}, '
            f'{w}) exactly; choose TopdownAffine.input_size=(W, H) with H a multiple of '
            f'{rows} and W a multiple of {cols}, e.g. ({64 * cols}, {64 * rows})')
    return h // rows, w // cols


def slot_centres(image_hw: Sequence[int], grid: Sequence[int]) -> np.ndarray:
    """(K, 2) float32 x, y centres of the K = rows * cols slots, row-major, in crop pixels."""
    ch, cw = cell_size(image_hw, grid)
    rows, cols = grid
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.stack([(c + 0.5) * cw, (r + 0.5) * ch], axis=1).astype(np.float32)


def points_to_slots(points: np.ndarray, image_hw: Sequence[int],
                    grid: Sequence[int]) -> np.ndarray:
    """Slot index (int64, same leading shape) of crop points ``points`` (..., 2) = x, y;
    points outside the crop count for the nearest slot."""
    (h, w), (rows, cols) = image_hw[:2], grid
    points = np.asarray(points, dtype=np.float64)
    col = np.clip(np.floor(points[..., 0] * cols / w), 0, cols - 1).astype(np.int64)
    row = np.clip(np.floor(points[..., 1] * rows / h), 0, rows - 1).astype(np.int64)
    return row * cols + col


def mirror_cells(grid: Sequence[int]) -> np.ndarray:
    """(K,) index of each cell's horizontal mirror, (r, c) -> (r, cols - 1 - c)."""
    rows, cols = grid
    r, c = np.divmod(np.arange(rows * cols), cols)
    return r * cols + (cols - 1 - c)


def _cell(img, k, grid, ch, cw):
    r, c = divmod(int(k), grid[1])
    return img[r * ch:(r + 1) * ch, c * cw:(c + 1) * cw]


def shuffle_cells(img: np.ndarray, perm: Sequence[int], grid: Sequence[int]) -> np.ndarray:
    """Move cell ``k`` of ``img`` (H, W[, C]) to slot ``perm[k]`` (no gap, no jitter)."""
    ch, cw = cell_size(img.shape, grid)
    out = np.empty_like(img)
    for k, slot in enumerate(perm):
        _cell(out, slot, grid, ch, cw)[...] = _cell(img, k, grid, ch, cw)
    return out


def reassemble(shuffled: np.ndarray, slots: Sequence[int], grid: Sequence[int]) -> np.ndarray:
    """Put the content of slot ``slots[k]`` of ``shuffled`` (H, W[, C]) back at cell ``k``.

    With ``slots = perm`` it inverts :func:`shuffle_cells`; with slots predicted by a model it
    shows the model's solution (a slot may then be used twice and another not at all).
    """
    ch, cw = cell_size(shuffled.shape, grid)
    out = np.empty_like(shuffled)
    for k, slot in enumerate(slots):
        _cell(out, k, grid, ch, cw)[...] = _cell(shuffled, slot, grid, ch, cw)
    return out


@TRANSFORMS.register_module()
class JigsawShuffle(BaseTransform):
    """Shuffle the cells of a top-down crop and label each cell with its new slot.

    Required keys: ``img`` (H, W, C) uint8, the crop of ``TopdownAffine``; ``input_center``,
    ``input_scale`` (2,) as ``TopdownAffine`` writes them. Optional: ``flip_indices`` (K,) of
    the dataset, whose length is checked against the grid; ``id`` (annotation id) for
    ``seed``.

    Modified keys: ``img`` (the shuffled crop); ``transformed_keypoints`` (1, K, 2) float32, the
    centre of the slot holding each original cell in crop pixels (what ``GenerateTarget``
    encodes); ``keypoints`` (1, K, 2), the same points mapped to the image as the pose model
    maps its predictions back (exact without rotation); ``keypoints_visible`` (1, K) ones.

    Added keys (add them to ``PackPoseInputs(meta_keys=...)`` so the metric and the visualiser
    see them): ``jigsaw_grid`` (rows, cols); ``jigsaw_perm`` (K,) int64, ``perm[k]`` = slot of
    original cell ``k``.

    Args:
        grid (tuple[int, int], optional): (rows, cols), K = rows * cols cells, e.g. (4, 3):
            64x64 cells on a 256x192 crop. The grid must divide the crop (ValueError
            otherwise). Default None: the data set's (``jigsaw_grid`` of each sample, which
            :class:`~mcl_mm.datasets.CocoPersonJigsawDataset` writes), so a config sets the
            grid once, on the data set.
        gap (int): pixels taken off each cell's height and width: a random (ch - gap, cw - gap)
            window of the cell is pasted at a random offset in its slot and the rest of the
            slot is ``pad_val``, so edges do not continue across slots. Default 0.
        colour_jitter (float): per-cell random gain in [1 - a, 1 + a] per channel plus an
            offset in [-a, a] * 255, against colour-continuity shortcuts. Default 0.
        pad_val (int): fill of the gap. Default 0.
        seed (int, optional): None draws the permutation (and gap/jitter) from numpy's global
            generator, which mmengine seeds with ``randomness.seed``: fresh puzzles every epoch
            that reproduce under a seed. An int draws them from
            ``np.random.default_rng([seed, id])`` (``id`` the annotation id), the same puzzle
            for a sample in every evaluation: use it in val/test pipelines.
    """

    def __init__(self, grid=None, gap: int = 0, colour_jitter: float = 0.0,
                 pad_val: int = 0, seed: Optional[int] = None):
        super().__init__()
        self.grid = None if grid is None else check_grid(grid, 'JigsawShuffle.grid')
        if not isinstance(gap, (int, np.integer)) or gap < 0:
            raise ValueError(f'JigsawShuffle.gap must be an int >= 0 (pixels), got {gap!r}')
        if not 0 <= colour_jitter < 1:
            raise ValueError(
                f'JigsawShuffle.colour_jitter must be in [0, 1), got {colour_jitter!r}')
        self.gap, self.colour_jitter, self.pad_val, self.seed = (int(gap), float(colour_jitter),
                                                                 pad_val, seed)

    def _grid(self, results: dict) -> Tuple[int, int]:
        if self.grid is not None:
            return self.grid
        if 'jigsaw_grid' not in results:
            raise ValueError('JigsawShuffle(grid=None) takes the grid from the data set, but '
                             'this sample has no jigsaw_grid: use '
                             "dict(type='mcl_mm.CocoPersonJigsawDataset', grid=(rows, cols)) "
                             'or set JigsawShuffle.grid')
        return check_grid(results['jigsaw_grid'], 'the data set\'s jigsaw_grid')

    def _rng(self, results):
        if self.seed is None:
            return np.random  # the global generator, as mmpose's own transforms
        key = int(results.get('id', results.get('img_id', 0)) or 0)
        return np.random.default_rng([int(self.seed), key])

    def transform(self, results: dict) -> dict:
        img = results['img']
        if isinstance(img, list):
            raise ValueError('JigsawShuffle needs one crop per sample in results["img"], '
                             'got a list')
        grid = self._grid(results)
        k = grid[0] * grid[1]
        flip_indices = results.get('flip_indices')
        if flip_indices is not None and len(flip_indices) != k:
            raise ValueError(
                f'JigsawShuffle.grid={grid} makes {k} cells but the dataset has '
                f'{len(flip_indices)} keypoints; give the dataset the same grid '
                f"(e.g. dict(type='mcl_mm.CocoPersonJigsawDataset', grid={grid}))")
        ch, cw = cell_size(img.shape, grid)
        if self.gap >= min(ch, cw):
            raise ValueError(f'JigsawShuffle.gap={self.gap} must be smaller than the cells '
                             f'({ch}x{cw} pixels)')
        rng = self._rng(results)
        perm = rng.permutation(k).astype(np.int64)
        if self.gap == 0 and self.colour_jitter == 0:
            shuffled = shuffle_cells(img, perm, grid)
        else:
            shuffled = self._shuffle_with_gap(img, perm, grid, ch, cw, rng)
        centres = slot_centres(img.shape, grid)[perm][None]  # (1, K, 2)

        size = np.asarray(results.get('input_size', (img.shape[1], img.shape[0])), np.float32)
        if 'input_center' in results and 'input_scale' in results:
            scale = np.asarray(results['input_scale'], np.float32)
            centre = np.asarray(results['input_center'], np.float32)
            keypoints = centres / size * scale + centre - 0.5 * scale
        else:
            keypoints = centres.copy()
        results.update(
            img=shuffled, transformed_keypoints=centres, keypoints=keypoints.astype(np.float32),
            keypoints_visible=np.ones((1, k), np.float32), jigsaw_grid=grid,
            jigsaw_perm=perm)
        return results

    def _shuffle_with_gap(self, img, perm, grid, ch, cw, rng):
        th, tw = ch - self.gap, cw - self.gap
        integers = getattr(rng, 'integers', None) or rng.randint  # Generator or np.random
        out = np.full_like(img, self.pad_val)
        channels = img.shape[2] if img.ndim == 3 else 1
        for k, slot in enumerate(perm):
            sy, sx, dy, dx = integers(0, self.gap + 1, 4) if self.gap else (0, 0, 0, 0)
            tile = _cell(img, k, grid, ch, cw)[sy:sy + th, sx:sx + tw]
            if self.colour_jitter:
                a = self.colour_jitter
                gain = rng.uniform(1 - a, 1 + a, channels)
                offset = rng.uniform(-a, a) * 255
                tile = tile.astype(np.float32) * (gain if img.ndim == 3 else gain[0]) + offset
                tile = np.clip(np.rint(tile), 0, 255).astype(img.dtype)
            _cell(out, slot, grid, ch, cw)[dy:dy + th, dx:dx + tw] = tile
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(grid={self.grid}, gap={self.gap}, '
                f'colour_jitter={self.colour_jitter}, pad_val={self.pad_val}, '
                f'seed={self.seed})')

"""HSJP's pretext score: how many jigsaw cells a heatmap pose model puts in the right slot."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mcl_mm.datasets.transforms.jigsaw import JIGSAW_META_KEYS, points_to_slots
from mcl_mm.registry import METRICS


def puzzle_accuracy(pred_slots: np.ndarray, perms: np.ndarray) -> Dict[str, float]:
    """Cell and whole-puzzle accuracy.

    Args:
        pred_slots: (N, K) int, the slot each sample's cell ``k`` is predicted to lie in.
        perms: (N, K) int, the true slots (``jigsaw_perm``).

    Returns:
        ``cell_accuracy``: share of the N * K cells in the right slot (chance 1 / K);
        ``solved``: share of the N samples with every cell right (chance 1 / K! for a random
        permutation).
    """
    pred_slots, perms = np.asarray(pred_slots), np.asarray(perms)
    if pred_slots.shape != perms.shape or pred_slots.ndim != 2 or not pred_slots.size:
        raise ValueError(f'pred_slots and perms must both be (N, K) with N, K > 0, got '
                         f'{pred_slots.shape} and {perms.shape}')
    correct = pred_slots == perms
    return dict(cell_accuracy=float(correct.mean()), solved=float(correct.all(1).mean()))


def predicted_slots(keypoints: np.ndarray, meta: dict) -> np.ndarray:
    """(K,) slot of each predicted pseudo-keypoint of one sample.

    ``keypoints`` (K, 2) are in image coordinates, as ``TopdownPoseEstimator`` returns them;
    they are mapped back to the crop with the inverse of its mapping
    (``x_img = x_crop / input_size * input_scale + input_center - 0.5 * input_scale``) using
    the sample's ``input_size``, ``input_center``, ``input_scale`` and ``jigsaw_grid``.
    """
    size = np.asarray(meta['input_size'], np.float64)
    scale = np.asarray(meta['input_scale'], np.float64).reshape(-1)[:2]
    centre = np.asarray(meta['input_center'], np.float64).reshape(-1)[:2]
    crop = (np.asarray(keypoints, np.float64)[:, :2] - centre + 0.5 * scale) / scale * size
    return points_to_slots(crop, (size[1], size[0]), meta['jigsaw_grid'])


@METRICS.register_module()
class PuzzleAccuracy(BaseMetric):
    """Puzzle accuracy of an HSJP pretext model (``mcl_mm.PuzzleAccuracy``).

    For every sample the argmax of each cell's heatmap (the decoded keypoint of a stock
    ``TopdownPoseEstimator``) is mapped back to the crop and to the slot it falls in, and
    compared with ``jigsaw_perm``. Reports ``puzzle/cell_accuracy`` (share of cells in the
    right slot; chance = 1 / K) and ``puzzle/solved`` (share of samples solved entirely).

    The samples need ``jigsaw_grid`` and ``jigsaw_perm`` in their metainfo: add them to
    ``PackPoseInputs(meta_keys=...)`` after ``mcl_mm.JigsawShuffle``. Use a fixed
    ``JigsawShuffle(seed=...)`` in the val/test pipeline so the puzzles are the same at every
    evaluation.
    """
    default_prefix: Optional[str] = 'puzzle'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [k for k in (*JIGSAW_META_KEYS, 'input_size', 'input_center',
                                   'input_scale') if k not in sample]
            if missing:
                raise ValueError(
                    f'PuzzleAccuracy needs {missing} in the data samples\' metainfo: put '
                    "mcl_mm.JigsawShuffle in the val/test pipeline and add 'jigsaw_grid', "
                    "'jigsaw_perm' to PackPoseInputs(meta_keys=...)")
            keypoints = sample['pred_instances']['keypoints']
            keypoints = np.asarray(keypoints.cpu() if hasattr(keypoints, 'cpu') else keypoints)
            if keypoints.ndim == 3:
                keypoints = keypoints[0]
            perm = np.asarray(sample['jigsaw_perm'])
            if len(keypoints) != len(perm):
                raise ValueError(f'the model predicts {len(keypoints)} keypoints but the '
                                 f'puzzle has {len(perm)} cells: set head.out_channels to '
                                 'rows * cols of the JigsawShuffle grid')
            self.results.append((predicted_slots(keypoints, sample), perm))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        sizes = {len(perm) for _, perm in results}
        if len(sizes) != 1:
            raise ValueError(f'PuzzleAccuracy got puzzles of different sizes {sorted(sizes)}')
        pred, perm = (np.stack(x) for x in zip(*results))
        return puzzle_accuracy(pred, perm)

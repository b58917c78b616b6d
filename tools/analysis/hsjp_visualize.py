"""Show an HSJP pretext model solving one puzzle: a PNG with the original crop, the shuffled
crop, and the crop reassembled from the model's heatmaps.

    python tools/analysis/hsjp_visualize.py CONFIG CHECKPOINT --index 0 --out puzzle.png \
        [--split val] [--cfg-options KEY=VALUE ...]

Sample ``--index`` of the config's ``{split}_dataloader`` data set goes through its pipeline
(the val/test pipelines fix each box's puzzle with ``JigsawShuffle(seed=...)``, so the PNG
shows the puzzle the metric scores); the crop before ``mcl_mm.JigsawShuffle`` is the
original. The model predicts one heatmap per original cell; the reassembly puts the content
of each heatmap's argmax slot back at its cell (cells framed green when right, red when
wrong). Prints the slots and the sample's cell accuracy.
"""
import argparse
import copy
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mcl_mm  # noqa: F401  registries, checkpoint allow-list
from mcl_mm.datasets.transforms.jigsaw import cell_size, reassemble
from mcl_mm.evaluation.puzzle_accuracy import predicted_slots


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='HSJP pretext config')
    parser.add_argument('checkpoint', help='pretext checkpoint')
    parser.add_argument('--index', type=int, default=0, help='sample index in the data set')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='val',
                        help='whose dataloader data set to read (default: val)')
    parser.add_argument('--out', default='hsjp_puzzle.png', help='PNG to write')
    parser.add_argument('--scale', type=int, default=2, help='upscaling of the panels')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, KEY=VALUE')
    return parser.parse_args()


def _is_jigsaw(transform) -> bool:
    return type(transform).__name__ == 'JigsawShuffle'


def load_sample(cfg, split: str, index: int):
    """(original crop (H, W, 3) uint8 BGR, packed sample) of sample ``index``."""
    from mmpose.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader']['dataset'])
    dataset = DATASETS.build(dataset_cfg)
    if not 0 <= index < len(dataset):
        raise ValueError(f'--index {index} is outside the {split} data set (0..'
                         f'{len(dataset) - 1})')
    transforms = dataset.pipeline.transforms
    cut = [i for i, t in enumerate(transforms) if _is_jigsaw(t)]
    if not cut:
        raise ValueError(f'{split}_dataloader.dataset.pipeline has no mcl_mm.JigsawShuffle: '
                         'give an HSJP pretext config')
    info = dataset.get_data_info(index)
    info['dataset'] = dataset
    results = Compose(transforms[:cut[0]])(info)
    original = results['img'].copy()
    packed = Compose(transforms[cut[0]:])(results)
    return original, packed


def draw_panels(original, shuffled, reassembled, grid, correct, scale=2):
    """One BGR image: the three crops side by side with titles, cell grids and, on the
    reassembly, a green (right) or red (wrong) frame per cell."""
    ch, cw = cell_size(original.shape, grid)
    panels = []
    for title, img, marks in (('original', original, None), ('shuffled', shuffled, None),
                              ('reassembled', reassembled, correct)):
        img = cv2.resize(np.ascontiguousarray(img), None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
        for k in range(grid[0] * grid[1]):
            r, c = divmod(k, grid[1])
            p0 = (c * cw * scale, r * ch * scale)
            p1 = ((c + 1) * cw * scale - 1, (r + 1) * ch * scale - 1)
            colour = (255, 255, 255) if marks is None else (
                (0, 200, 0) if marks[k] else (0, 0, 255))
            cv2.rectangle(img, p0, p1, colour, 1 if marks is None else 2)
        header = np.full((22, img.shape[1], 3), 255, np.uint8)
        cv2.putText(header, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        panels.append(np.concatenate([header, img], 0))
    gap = np.full((panels[0].shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([panels[0], gap, panels[1], gap, panels[2]], 1)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('default_scope') != 'mmpose':
        raise ValueError(f"default_scope='{cfg.get('default_scope')}': an HSJP pretext config "
                         "keeps default_scope='mmpose'")
    init_default_scope('mmpose')
    from mmpose.registry import MODELS

    original, packed = load_sample(cfg, args.split, args.index)
    shuffled = packed['inputs'].permute(1, 2, 0).numpy().copy()  # BGR uint8, as loaded
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    with torch.no_grad():
        sample = model.test_step(pseudo_collate([packed]))[0]

    meta = sample.metainfo
    if 'jigsaw_perm' not in meta:
        raise ValueError("the sample has no 'jigsaw_perm': add 'jigsaw_grid', 'jigsaw_perm' to "
                         'PackPoseInputs(meta_keys=...) in the pipeline')
    grid, perm = tuple(meta['jigsaw_grid']), np.asarray(meta['jigsaw_perm'])
    keypoints = sample.pred_instances.keypoints
    keypoints = np.asarray(keypoints.cpu() if hasattr(keypoints, 'cpu') else keypoints)[0]
    slots = predicted_slots(keypoints, meta)
    correct = slots == perm
    png = draw_panels(original, shuffled, reassemble(shuffled, slots, grid), grid, correct,
                      args.scale)
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    if not cv2.imwrite(args.out, png):
        raise OSError(f'could not write {args.out}')
    print(f'sample {args.index} ({meta.get("img_path")}, id {meta.get("id")}): true slots '
          f'{perm.tolist()}, predicted {slots.tolist()}, cell accuracy {correct.mean():.3f}; '
          f'wrote {args.out}')


if __name__ == '__main__':
    main()

"""HSJP: the jigsaw transform and its labels, the person-box data set, puzzle accuracy, and a
tiny pretext -> export -> fine-tune run through the tools."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, run_tool

from mcl_mm.datasets.transforms.jigsaw import (
    JigsawShuffle,
    mirror_cells,
    points_to_slots,
    reassemble,
    shuffle_cells,
    slot_centres,
)
from mcl_mm.evaluation.puzzle_accuracy import PuzzleAccuracy, puzzle_accuracy

PRETEXT = 'configs/hsjp/hsjp-2x2-res18_synthetic-coco.py'
FINETUNE = 'configs/hsjp/td-hm-res18_hsjp-init_synthetic-coco.py'
FINETUNE_DECONV = 'configs/hsjp/td-hm-res18_hsjp-init-deconv_synthetic-coco.py'
# (grid, crop (H, W), heatmap (H, W), sigma) of the shipped configs
SETTINGS = [((4, 3), (256, 192), (64, 48), 2), ((3, 3), (288, 192), (72, 48), 2),
            ((2, 2), (256, 192), (64, 48), 2), ((2, 2), (96, 64), (24, 16), 1)]


def _crop(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _results(img, centre=(100.0, 80.0), scale=(150.0, 200.0)):
    h, w = img.shape[:2]
    return dict(img=img.copy(), input_size=(w, h), input_center=np.array(centre, np.float32),
                input_scale=np.array(scale, np.float32), id=7)


@pytest.mark.parametrize('grid,crop,heatmap,sigma', SETTINGS)
def test_labels_reassemble_the_crop_exactly(grid, crop, heatmap, sigma):
    """Encode the labels with the configs' MSRAHeatmap codec; the argmax of every heatmap (and
    the codec's decoded keypoint) lies in the slot of its cell, and reassembling the shuffled
    crop from those slots gives back the original crop pixel for pixel."""
    from mmpose.codecs import MSRAHeatmap
    codec = MSRAHeatmap(input_size=crop[::-1], heatmap_size=heatmap[::-1], sigma=sigma)
    original = _crop(*crop)
    np.random.seed(1)
    for _ in range(5):
        out = JigsawShuffle(grid=grid)(_results(original))
        k = grid[0] * grid[1]
        assert out['transformed_keypoints'].shape == (1, k, 2)
        assert out['keypoints_visible'].shape == (1, k) and out['keypoints_visible'].all()
        heatmaps = codec.encode(out['transformed_keypoints'], out['keypoints_visible'])
        hm = heatmaps['heatmaps']
        assert hm.shape == (k, *heatmap) and heatmaps['keypoint_weights'].all()
        y, x = np.divmod(hm.reshape(k, -1).argmax(1), heatmap[1])
        argmax = np.stack([x, y], 1) * (crop[0] / heatmap[0])  # heatmap -> crop pixels
        slots = points_to_slots(argmax, crop, grid)
        np.testing.assert_array_equal(slots, out['jigsaw_perm'])
        decoded, _ = codec.decode(hm)
        np.testing.assert_array_equal(points_to_slots(decoded[0], crop, grid), slots)
        np.testing.assert_array_equal(reassemble(out['img'], slots, grid), original)
        assert not np.array_equal(out['img'], original) or (out['jigsaw_perm'] ==
                                                            np.arange(k)).all()
        # keypoints: the crop labels mapped to the image as the model maps its predictions
        size = np.array(crop[::-1], np.float32)
        back = (out['keypoints'][0] - out['input_center'] + 0.5 * out['input_scale']) / \
            out['input_scale'] * size
        np.testing.assert_allclose(back, out['transformed_keypoints'][0], atol=1e-3)


def test_permutations_vary_per_sample_and_reproduce_under_a_seed():
    img = _crop(96, 48)
    shuffle = JigsawShuffle(grid=(4, 3))

    def draw(seed, n=20):
        np.random.seed(seed)  # mmengine's randomness.seed seeds numpy's global generator
        return [tuple(shuffle(_results(img))['jigsaw_perm']) for _ in range(n)]

    perms = draw(0)
    assert len(set(perms)) == len(perms)  # 20 draws of 12! permutations
    assert all(sorted(p) == list(range(12)) for p in perms)
    assert draw(0) == perms and draw(1) != perms
    # seed=...: one fixed puzzle per annotation id (val/test), whatever the global state
    fixed = JigsawShuffle(grid=(4, 3), seed=0)
    a = fixed(dict(_results(img), id=5))['jigsaw_perm']
    np.random.seed(123)
    np.testing.assert_array_equal(fixed(dict(_results(img), id=5))['jigsaw_perm'], a)
    others = {tuple(fixed(dict(_results(img), id=i))['jigsaw_perm']) for i in range(10)}
    assert len(others) > 1


def test_grid_that_does_not_divide_the_crop_is_an_error():
    with pytest.raises(ValueError, match=r'grid=\(rows, cols\)=\(3, 3\) must divide .*\(256, '
                                         r'192\)'):
        JigsawShuffle(grid=(3, 3))(_results(_crop(256, 192)))
    with pytest.raises(ValueError, match=r'must divide'):
        JigsawShuffle(grid=(4, 5))(_results(_crop(256, 192)))
    for bad in ((0, 3), (4, ), (1, 1), (2.0, 2)):
        with pytest.raises(ValueError, match='JigsawShuffle.grid must be'):
            JigsawShuffle(grid=bad)
    with pytest.raises(ValueError, match='gap'):
        JigsawShuffle(grid=(2, 2), gap=32)(_results(_crop(64, 64)))
    with pytest.raises(ValueError, match='dataset has 17 keypoints'):
        JigsawShuffle(grid=(4, 3))(dict(_results(_crop(256, 192)), flip_indices=list(range(17))))


def test_gap_and_colour_jitter_keep_the_labels():
    original = _crop(64, 64)
    np.random.seed(0)
    out = JigsawShuffle(grid=(2, 2), gap=4, colour_jitter=0.2, pad_val=0)(_results(original))
    perm = out['jigsaw_perm']
    np.testing.assert_array_equal(out['transformed_keypoints'][0],
                                  slot_centres((64, 64), (2, 2))[perm])
    back = reassemble(out['img'], perm, (2, 2))
    assert not np.array_equal(back, original)
    for k in range(4):  # each slot: a 28x28 tile at an offset, 4-pixel bands of pad_val
        r, c = divmod(k, 2)
        cell = back[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32]
        filled = (cell != 0).any(2)
        assert filled.sum(0).max() <= 28 and filled.sum(1).max() <= 28
        assert (~filled).sum() >= 32 * 32 - 28 * 28


def test_flip_indices_make_flip_test_exact():
    """The flipped puzzle is a puzzle of the flipped crop whose labels, read through the
    dataset's flip indices (each cell's mirror), are the mirrored true slots: what mmpose's
    flip test assumes when it flips heatmaps back and swaps their channels."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from mcl_mm.datasets.coco_person import jigsaw_metainfo
    grid = (4, 3)
    flip = np.array(parse_pose_metainfo(jigsaw_metainfo(grid))['flip_indices'])
    np.testing.assert_array_equal(flip, mirror_cells(grid))
    crop = _crop(256, 192)
    perm = np.random.default_rng(0).permutation(12)
    flipped_perm = mirror_cells(grid)[perm[flip]]  # slot of flipped-crop cell k' in F(I)
    np.testing.assert_array_equal(shuffle_cells(crop, perm, grid)[:, ::-1],
                                  shuffle_cells(crop[:, ::-1], flipped_perm, grid))
    # flip the heatmaps back (mirror the slot) and take channel flip[k]: the true slot of k
    np.testing.assert_array_equal(mirror_cells(grid)[flipped_perm][flip], perm)


def test_dataset_keeps_keypointless_boxes_and_drops_crowds(synthetic_data):
    from mmpose.datasets import CocoDataset

    from mcl_mm.datasets.coco_person import CocoPersonJigsawDataset
    root = synthetic_data('coco_pose')
    anns = json.loads((root / 'annotations/person_keypoints_train2017.json').read_text())
    anns = anns['annotations']
    non_crowd = {a['id'] for a in anns if not a['iscrowd']}
    keypointless = {a['id'] for a in anns if not a['iscrowd'] and a['num_keypoints'] == 0}
    assert keypointless and any(a['iscrowd'] for a in anns)  # the synthetic set has both
    kw = dict(data_root=str(root), data_prefix=dict(img='train2017/'), pipeline=[])
    ds = CocoPersonJigsawDataset(grid=(4, 3),
                                 ann_file='annotations/person_keypoints_train2017.json', **kw)
    ids = [ds.get_data_info(i)['id'] for i in range(len(ds))]
    assert set(ids) == non_crowd and len(ids) == len(non_crowd)
    stock = CocoDataset(ann_file='annotations/person_keypoints_train2017.json', **kw)
    assert len(stock) == len(non_crowd) - len(keypointless)
    info = ds.get_data_info(ids.index(min(keypointless)))
    assert info['keypoints'].shape == (1, 12, 2) and info['iscrowd'] == 0
    assert ds.metainfo['num_keypoints'] == 12
    assert list(ds.metainfo['flip_indices']) == list(mirror_cells((4, 3)))
    # the instances file (no keypoints at all) gives the same boxes
    inst = CocoPersonJigsawDataset(grid=(4, 3),
                                   ann_file='annotations/instances_train2017.json', **kw)
    assert {inst.get_data_info(i)['id'] for i in range(len(inst))} == non_crowd
    with pytest.raises(ValueError, match="data_mode must be 'topdown'"):
        CocoPersonJigsawDataset(data_mode='bottomup', ann_file='x.json', **kw)


def _sample(slots_crop_xy, perm, grid=(4, 3), crop=(256, 192), centre=(300., 200.),
            scale=(180., 240.)):
    size = np.array(crop[::-1], np.float64)
    kpts = np.asarray(slots_crop_xy) / size * scale + centre - 0.5 * np.array(scale)
    return dict(pred_instances=dict(keypoints=kpts[None].astype(np.float32)),
                input_size=crop[::-1], input_center=np.array(centre), input_scale=np.array(scale),
                jigsaw_grid=grid, jigsaw_perm=np.asarray(perm))


def test_puzzle_accuracy_of_perfect_and_random_predictions():
    rng = np.random.default_rng(0)
    grid, crop, k = (4, 3), (256, 192), 12
    centres = slot_centres(crop, grid)
    perms = [rng.permutation(k) for _ in range(3000)]

    metric = PuzzleAccuracy()
    metric.process({}, [_sample(centres[p] + rng.uniform(-31, 31, (k, 2)), p) for p in perms])
    assert metric.compute_metrics(metric.results) == dict(cell_accuracy=1.0, solved=1.0)

    metric = PuzzleAccuracy()
    metric.process({}, [_sample(rng.uniform(0, 1, (k, 2)) * crop[::-1], p) for p in perms])
    res = metric.compute_metrics(metric.results)
    assert abs(res['cell_accuracy'] - 1 / k) < 0.01  # chance
    assert res['solved'] == 0.0
    # (rows, cols) and the crop->image mapping enter through the sample's metainfo
    assert metric.evaluate(len(perms)).keys() == {'puzzle/cell_accuracy', 'puzzle/solved'}

    assert puzzle_accuracy([[0, 1], [1, 0]], [[0, 1], [0, 1]]) == dict(cell_accuracy=0.5,
                                                                        solved=0.5)
    with pytest.raises(ValueError, match='jigsaw_perm'):
        s = _sample(centres, np.arange(k))
        del s['jigsaw_perm']
        PuzzleAccuracy().process({}, [s])


def _scalars(work_dir: Path):
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


@pytest.mark.slow
def test_pretext_export_finetune_visualise(synthetic_data, tmp_path):
    """tools/train.py on the toy pretext; the exported backbone initialises the fine-tune
    (tools/train.py, tools/test.py) with no missing keys; the visualiser writes its PNG."""
    data = synthetic_data('coco_pose')
    roots = [f'{s}_dataloader.dataset.data_root={data}/' for s in ('train', 'val', 'test')]
    pre = tmp_path / 'pretext'
    run_tool('tools/train.py', PRETEXT, '--work-dir', str(pre), '--cfg-options', *roots,
             'train_cfg.max_epochs=3', 'train_cfg.val_interval=3')
    ckpt = pre / 'epoch_3.pth'
    val = [s for s in _scalars(pre) if 'puzzle/cell_accuracy' in s]
    assert val and 0 <= val[-1]['puzzle/cell_accuracy'] <= 1

    backbone, deconv = tmp_path / 'backbone.pth', tmp_path / 'backbone_deconv.pth'
    run_tool('tools/model_converters/pose_backbone.py', str(ckpt), str(backbone))
    run_tool('tools/model_converters/pose_backbone.py', str(ckpt), str(deconv), '--with-deconv')
    state = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    exported = torch.load(deconv, map_location='cpu', weights_only=True)['state_dict']
    assert set(exported) == {k for k in state if k.startswith(('backbone.',
                                                               'head.deconv_layers.'))}
    assert set(torch.load(backbone, weights_only=True)['state_dict']) == {
        k for k in state if k.startswith('backbone.')}

    # the deconv fine-tune config: backbone and deconvolutions equal the pretext's after init
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmpose.registry import MODELS
    cfg = Config.fromfile(str(REPO / FINETUNE_DECONV))
    cfg.model.backbone.init_cfg.checkpoint = str(deconv)
    cfg.model.head.init_cfg[-1].checkpoint = str(deconv)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    mine = model.state_dict()
    for key, value in exported.items():
        torch.testing.assert_close(mine[key], value, msg=key)

    # fine-tune and test through the tools: the backbone loads with no missing keys
    ann = f'{data}/annotations/person_keypoints_val2017.json'
    opts = ['--cfg-options', *roots, f'val_evaluator.ann_file={ann}',
            f'test_evaluator.ann_file={ann}', 'train_cfg.max_epochs=1',
            'train_cfg.val_interval=1']
    fine = tmp_path / 'finetune'
    log = run_tool('tools/train.py', FINETUNE, '--work-dir', str(fine), *opts,
                   f'model.backbone.init_cfg.checkpoint={backbone}')
    assert f'load backbone. in model from: {backbone}' in log
    assert 'missing keys' not in log and 'unexpected key' not in log
    log = run_tool('tools/test.py', FINETUNE, str(fine / 'epoch_1.pth'), '--work-dir',
                   str(tmp_path / 'test'), *opts)
    assert re.search(r'coco/AP: \d+\.\d+', log)

    png = tmp_path / 'puzzle.png'
    out = run_tool('tools/analysis/hsjp_visualize.py', PRETEXT, str(ckpt), '--index', '1',
                   '--out', str(png), '--cfg-options', roots[1])
    assert 'cell accuracy' in out
    import cv2
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] > 3 * 64 * 2


@pytest.mark.slow
def test_pretext_resume_is_exact(synthetic_data, tmp_path):
    """2 epochs in one go == 1 epoch, stop, --resume for 1 more: the jigsaw permutations
    (numpy's generator) and everything else resume, so weights and losses are identical."""
    data = synthetic_data('coco_pose')
    opts = ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}/'
                               for s in ('train', 'val', 'test')],
            'train_cfg.max_epochs=2', 'train_cfg.val_interval=10',
            'default_hooks.checkpoint.interval=1', 'randomness.deterministic=True',
            'default_hooks.logger.interval=1', 'log_processor.window_size=1']
    whole, split = tmp_path / 'whole', tmp_path / 'split'
    run_tool('tools/train.py', PRETEXT, '--work-dir', str(whole), *opts)
    run_tool('tools/train.py', PRETEXT, '--work-dir', str(split), *opts,
             'train_cfg.max_epochs=1')
    run_tool('tools/train.py', PRETEXT, '--work-dir', str(split), '--resume', *opts)
    a = torch.load(whole / 'epoch_2.pth', weights_only=True)['state_dict']
    b = torch.load(split / 'epoch_2.pth', weights_only=True)['state_dict']
    for key, value in a.items():
        assert torch.equal(value, b[key]), key
    loss_a = [r['loss_kpt'] for r in _scalars(whole) if 'loss_kpt' in r]
    loss_b = [r['loss_kpt'] for r in _scalars(split) if 'loss_kpt' in r]
    assert loss_a[-3:] == loss_b[-3:]

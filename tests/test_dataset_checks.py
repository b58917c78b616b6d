"""Bad input -> a clear error naming the config key or file and what was expected:
mcl_mm.datasets.checks, tools/misc/check_dataset.py and mcl_mm.DatasetCheckHook.

The synthetic sets of the ``synthetic_data`` fixture are shared, so each test damages a copy
(or an index of symbolic links to them, whose links, never their targets, are replaced).
"""
import json
import os
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, InfiniteSampler, pseudo_collate
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

import mcl_mm  # noqa: F401
from mcl_mm.datasets import checks
from mcl_mm.datasets.checks import (
    DEFAULT_MAX_DECODE,
    BadDataError,
    DatasetScan,
    cfg_num_classes,
    check_data_roots,
    check_dataset,
    find_data_root_problems,
    format_problems,
)

SEG = 'configs/baselines/deeplabv3-r18_synthetic-cityscapes.py'
DET = 'configs/baselines/retinanet-r18_synthetic-coco.py'
CLS = 'configs/baselines/resnet18_synthetic-imagenet.py'
TRAIN_IMG = 'leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png'
TRAIN_LABEL = 'gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png'


def _copy(synthetic_data, tmp_path, fmt, **kw):
    dst = tmp_path / fmt
    shutil.copytree(synthetic_data(fmt, **kw), dst)
    return dst


@pytest.fixture
def cityscapes(synthetic_data, tmp_path):
    return _copy(synthetic_data, tmp_path, 'cityscapes', num_train=4, num_val=2)


def _city_dataset(root, split='train'):
    from mmseg.datasets import CityscapesDataset
    return CityscapesDataset(
        data_root=str(root), pipeline=[],
        data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'))


def _seg_cfg(root, path=SEG):
    cfg = Config.fromfile(str(REPO / path))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(root)
    return cfg


def _set_label(path, fn):
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    fn(label)
    assert cv2.imwrite(str(path), label)


# ------------------------------------------------------------------------- config-level paths
def test_missing_data_root_names_the_config_key(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError) as e:
        check_data_roots(_seg_cfg(missing), splits=('train', 'val'))
    msg = str(e.value)
    assert f"train_dataloader.dataset.data_root: '{missing}' does not exist" in msg
    assert f"val_dataloader.dataset.data_root: '{missing}' does not exist" in msg
    assert 'test_dataloader' not in msg  # only the splits asked for
    assert "expected the data set's root folder" in msg


def test_empty_data_root_and_empty_image_folder(cityscapes, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    problems = find_data_root_problems(_seg_cfg(empty), splits=['train'])
    assert problems == [f"train_dataloader.dataset.data_root: '{empty}' is an empty folder "
                        "(expected the data set's files)"]
    # the city folders are there but hold no image: the stock class would fail with
    # 'need at least one array to concatenate'
    for png in (cityscapes / 'leftImg8bit' / 'train').rglob('*.png'):
        png.unlink()
    problems = find_data_root_problems(_seg_cfg(cityscapes), splits=['train', 'val'])
    assert len(problems) == 1
    assert problems[0].startswith('train_dataloader.dataset.data_prefix.img_path: no image '
                                  "files '*_leftImg8bit.png' under")
    assert str(cityscapes / 'leftImg8bit' / 'train') in problems[0]


def test_missing_ann_file_and_image_folder_name_their_keys(synthetic_data, tmp_path):
    data = _copy(synthetic_data, tmp_path, 'coco_det', num_train=4, num_val=2)
    (data / 'annotations' / 'instances_train2017.json').unlink()
    shutil.rmtree(data / 'val2017')
    cfg = Config.fromfile(str(REPO / DET))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = f'{data}/'
    cfg.val_evaluator.ann_file = str(data / 'annotations' / 'missing.json')
    problems = find_data_root_problems(cfg, splits=('train', 'val'))
    assert len(problems) == 3, problems
    assert problems[0].startswith('train_dataloader.dataset.ann_file: '
                                  f"'{data}/annotations/instances_train2017.json' does not exist")
    assert problems[1].startswith("val_dataloader.dataset.data_prefix.img: folder "
                                  f"'{data}/val2017")
    assert problems[2].startswith(f"val_evaluator.ann_file: '{data}/annotations/missing.json' "
                                  'does not exist')


def test_label_folder_is_needed_only_where_the_pipeline_loads_labels(cityscapes):
    shutil.rmtree(cityscapes / 'gtFine' / 'val')
    cfg = _seg_cfg(cityscapes)
    assert find_data_root_problems(cfg, ['val']) == [
        f"val_dataloader.dataset.data_prefix.seg_map_path: folder '{cityscapes}/gtFine/val' "
        "does not exist ('gtFine/val' under data_root)"]
    cfg.val_dataloader.dataset.pipeline = [dict(type='LoadImageFromFile'),
                                           dict(type='PackSegInputs')]
    assert find_data_root_problems(cfg, ['val']) == []


def test_clean_config_has_no_path_problems(cityscapes):
    check_data_roots(_seg_cfg(cityscapes))  # no error


# --------------------------------------------------------------------------- data set scans
def test_clean_set_and_ignore_value_are_accepted(cityscapes):
    label = cv2.imread(str(cityscapes / TRAIN_LABEL), cv2.IMREAD_UNCHANGED)
    assert (label == 255).any()  # the ego-vehicle band
    assert check_dataset(_city_dataset(cityscapes)) == []


def test_unreadable_image_names_the_file(cityscapes):
    img = cityscapes / TRAIN_IMG
    img.write_bytes(img.read_bytes()[:300])  # truncated
    problems = check_dataset(_city_dataset(cityscapes))
    assert len(problems) == 1
    p = problems[0]
    assert (p.kind, p.path, p.indices) == ('image', str(img), (0, ))
    assert str(p) == (f"image {img}: cannot be decoded by mmcv.imfrombytes(flag='color', "
                      "backend='cv2') (300 bytes; truncated or not an image); expected a "
                      'readable image file')


def test_file_check_threads_find_the_same_and_fingerprint_the_same(cityscapes, monkeypatch):
    """The file check runs in one thread by default (fastest on a local disk); more threads
    (network file systems) must find the same problems and give the same fingerprint."""
    (cityscapes / TRAIN_LABEL).unlink()
    dataset = _city_dataset(cityscapes)
    monkeypatch.setattr(checks, 'CHUNK', 1)  # one unit per sample: several per thread
    results = [checks.DatasetScan(dataset, max_decode=0, file_workers=file_workers).run()
               for file_workers in (1, 3)]
    assert [str(p) for p in results[0].problems] == [str(p) for p in results[1].problems]
    assert len(results[0].problems) == 1 and results[0].problems[0].kind == 'label'
    assert results[0].fingerprint == results[1].fingerprint
    with pytest.raises(ValueError, match='file_workers must be an int >= 1'):
        _hook(file_workers=0)


def test_unreadable_or_missing_label_names_the_file(cityscapes):
    label = cityscapes / TRAIN_LABEL
    label.write_bytes(b'garbage')
    other = cityscapes / TRAIN_LABEL.replace('aachen_000000', 'aachen_000001')
    other.unlink()
    problems = [str(p) for p in check_dataset(_city_dataset(cityscapes))]
    assert len(problems) == 2
    assert problems[0].startswith(f"label {label}: cannot be decoded by mmcv.imfrombytes("
                                  "flag='unchanged', backend='pillow') (7 bytes; "
                                  'UnidentifiedImageError')
    assert problems[0].endswith('expected a readable image file')
    assert problems[1] == (f'label {other}: does not exist (expected the label map of image '
                           f"{cityscapes / TRAIN_IMG.replace('aachen_000000', 'aachen_000001')})")


def test_label_values_out_of_range_name_file_and_values(cityscapes):
    path = cityscapes / TRAIN_LABEL

    def damage(label):
        label[:3, :3] = 50
        label[5:8, 5:8] = 77
        label[10, 10] = 18  # the last class: fine
    _set_label(path, damage)
    problems = check_dataset(_city_dataset(cityscapes))
    assert [str(p) for p in problems] == [
        f'label {path}: label values [50, 77] outside 0..18 (ignore 255); expected class '
        "indices (the data set's classes) or 255"]
    # the model predicts fewer classes than the data set lists: its bound applies
    problems = check_dataset(_city_dataset(cityscapes), num_classes=10)
    assert len(problems) == 4  # every label map has classes 10..18
    assert "outside 0..9 (ignore 255); expected class indices (the model's num_classes, 10; " \
        'the data set has 19) or 255' in str(problems[0])


def test_label_shape_and_channels(cityscapes):
    path = cityscapes / TRAIN_LABEL
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), label[:64])
    other = cityscapes / TRAIN_LABEL.replace('aachen_000000', 'aachen_000001')
    label = cv2.imread(str(other), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(other), np.stack([label] * 3, -1))
    problems = [str(p) for p in check_dataset(_city_dataset(cityscapes))]
    assert problems == [
        f'label {path}: is 64x256, its image {cityscapes / TRAIN_IMG} is 128x256; expected '
        'the same size',
        f'label {other}: has shape (128, 256, 3); expected a single-channel map of class '
        'indices (not a colour image)']


def test_reduce_zero_label_is_applied(tmp_path):
    from mmseg.datasets import BaseSegDataset
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    for name, values in (('ok', (0, 1, 3, 255)), ('bad', (0, 1, 4, 5))):
        cv2.imwrite(str(tmp_path / 'img' / f'{name}.jpg'), np.zeros((8, 8, 3), np.uint8))
        label = np.array(values, np.uint8).repeat(16).reshape(8, 8)
        cv2.imwrite(str(tmp_path / 'ann' / f'{name}.png'), label)
    dataset = BaseSegDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path='img', seg_map_path='ann'),
        metainfo=dict(classes=('a', 'b', 'c')), reduce_zero_label=True, pipeline=[])
    problems = check_dataset(dataset)
    # file values 1..3 are classes 0..2, 0 (and 255) ignored: 4 and 5 are out of range
    assert [str(p) for p in problems] == [
        f"label {tmp_path / 'ann' / 'bad.png'}: label values [4, 5] outside 0..2 (ignore 255; "
        'reduce_zero_label: a file value v is class v-1, 0 is ignored); expected class '
        "indices (the data set's classes) or 255"]


def test_camvid_void_is_mapped_to_ignore(synthetic_data, tmp_path):
    from mcl_mm.datasets import CamVidDataset
    data = _copy(synthetic_data, tmp_path, 'camvid', num_train=2, num_val=1)
    label = sorted((data / 'trainannot').glob('*.png'))[0]
    assert (cv2.imread(str(label), cv2.IMREAD_UNCHANGED) == 11).any()  # void, fine
    dataset = CamVidDataset(data_root=str(data), pipeline=[],
                            data_prefix=dict(img_path='train', seg_map_path='trainannot'))
    assert check_dataset(dataset) == []

    def damage(a):
        a[0, 0] = 12
    _set_label(label, damage)
    problems = check_dataset(dataset)
    assert len(problems) == 1 and str(problems[0]).startswith(
        f'label {label}: label values [12] outside 0..10 (ignore 255; label_map {{11: 255}})')


def test_coco_missing_or_unreadable_image(synthetic_data, tmp_path):
    from mmdet.datasets import CocoDataset
    data = _copy(synthetic_data, tmp_path, 'coco_det', num_train=4, num_val=2)
    images = sorted((data / 'train2017').glob('*.jpg'))
    images[0].unlink()
    images[1].write_bytes(b'\xff\xd8 not a jpeg')
    dataset = CocoDataset(data_root=str(data), ann_file='annotations/instances_train2017.json',
                          data_prefix=dict(img='train2017/'), pipeline=[],
                          metainfo=dict(classes=('person', 'bicycle', 'car', 'motorcycle',
                                                 'airplane')))
    problems = [str(p) for p in check_dataset(dataset)]
    assert problems[0] == f'image {images[0]}: does not exist'
    assert problems[1].startswith(f'image {images[1]}: cannot be decoded')


def test_pose_instances_of_one_image_are_one_problem(synthetic_data, tmp_path):
    from mmpose.datasets import CocoDataset
    data = _copy(synthetic_data, tmp_path, 'coco_pose', num_train=4, num_val=2)
    dataset = CocoDataset(data_root=str(data), data_mode='topdown', pipeline=[],
                          ann_file='annotations/person_keypoints_train2017.json',
                          data_prefix=dict(img='train2017/'))
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    bad = max(set(paths), key=paths.count)
    open(bad, 'wb').write(b'')
    problems = check_dataset(dataset)
    assert len(problems) == 1 and problems[0].path == bad
    assert problems[0].indices == tuple(i for i, p in enumerate(paths) if p == bad)


def test_imagenet_label_out_of_range(synthetic_data, tmp_path):
    from mmpretrain.datasets import ImageNet
    data = _copy(synthetic_data, tmp_path, 'imagenet', num_train=10, num_val=10)
    meta = data / 'meta' / 'train.txt'
    lines = meta.read_text().splitlines()
    lines[1] = lines[1].rsplit(' ', 1)[0] + ' 10'  # an 11th class the 10-class model lacks
    meta.write_text('\n'.join(lines) + '\n')
    dataset = ImageNet(data_root=str(data), split='train', pipeline=[])
    assert check_dataset(dataset) == []  # the data set has ImageNet's 1000 classes
    cfg = Config.fromfile(str(REPO / CLS))
    assert cfg_num_classes(cfg.model) == 10
    problems = check_dataset(dataset, num_classes=10)
    img = data / 'train' / lines[1].split()[0]
    assert [str(p) for p in problems] == [
        f'sample {img}: gt_label 10 (listed in {meta}) outside 0..9 (the model\'s '
        "num_classes, 10; the data set has 1000); expected a class index"]
    # the built model's head gives the same K as its config
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    assert checks.model_num_classes(model) == 10


def test_imagenet_split_folder_names_the_split_key(synthetic_data, tmp_path):
    """mmpretrain's ImageNet reads data_root/<split>: a missing folder names the key."""
    data = _copy(synthetic_data, tmp_path, 'imagenet', num_train=10, num_val=10)
    shutil.rmtree(data / 'val')
    cfg = Config.fromfile(str(REPO / CLS))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(data)
    assert find_data_root_problems(cfg, ['train', 'val']) == [
        f"val_dataloader.dataset.split: folder '{data}/val' does not exist ('val' under "
        'data_root)']


def _mmpretrain_dataset(cfg):
    from mmengine.registry import DATASETS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(cfg)


def test_cifar_labels_are_checked_without_files(synthetic_data):
    """CIFAR's images are in the pickles (no file to check); its labels are checked."""
    from mmpretrain.datasets import CIFAR100
    dataset = _mmpretrain_dataset(dict(type='mcl_mm.SyntheticCIFAR100', data_root=str(
        synthetic_data('cifar100', num_train=20, num_val=10)), pipeline=[]))
    assert isinstance(dataset, CIFAR100)
    assert check_dataset(dataset) == []
    # a 10-class model: the synthetic labels 11, 22, ... are outside 0..9
    problems = check_dataset(dataset, num_classes=10)
    assert [p.indices for p in problems] == [(i, ) for i in range(20) if i % 10]
    assert str(problems[0]) == ("sample #1: gt_label 11 outside 0..9 (the model's num_classes, "
                                '10; the data set has 100); expected a class index')
    cfg = Config.fromfile(str(REPO / 'configs/mcl/resnet18x2_synthetic-imagenet.py'))
    assert cfg_num_classes(cfg.model) == 10  # members read from their cfg_path


def test_max_samples_and_format(cityscapes):
    for name in ('aachen_000000', 'aachen_000001', 'bochum_000000'):
        (cityscapes / TRAIN_IMG.replace('aachen_000000', name).replace(
            'aachen/', f'{name.split("_")[0]}/')).write_bytes(b'x')
    dataset = _city_dataset(cityscapes)
    assert len(check_dataset(dataset)) == 3
    assert len(check_dataset(dataset, max_samples=2)) == 1  # samples 0 and 3
    text = format_problems(check_dataset(dataset), limit=2)
    assert text.count('\n') == 2 and text.endswith('... and 1 more')


# ------------------------------------------------------------------------------------ tool
def _check_tool(*args):
    proc = subprocess.run([sys.executable, 'tools/misc/check_dataset.py', *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout


def _root_opts(root):
    return ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={root}'
                               for s in ('train', 'val', 'test')]]


def test_tool_on_clean_and_damaged_sets(cityscapes, tmp_path):
    rc, out = _check_tool(SEG, *_root_opts(cityscapes))
    assert rc == 0, out
    assert 'train: CityscapesDataset, 4 samples checked' in out
    assert 'test: the same data set as val, not scanned again' in out
    assert out.rstrip().endswith('(labels checked against 19 classes)')
    assert 'OK: 0 problem(s) in train, val, test of' in out

    img = cityscapes / TRAIN_IMG
    img.write_bytes(b'')
    _set_label(cityscapes / TRAIN_LABEL.replace('aachen_000000', 'aachen_000001'),
               lambda a: a.__setitem__((0, 0), 77))
    val_label = next((cityscapes / 'gtFine' / 'val').rglob('*labelTrainIds.png'))
    val_label.write_bytes(b'junk')
    rc, out = _check_tool(SEG, '--split', 'train', 'val', *_root_opts(cityscapes))
    assert rc == 1, out
    errors = [line for line in out.splitlines() if line.startswith('ERROR')]
    assert len(errors) == 3, out
    assert errors[0] == (f'ERROR train: image {img}: is empty (0 bytes); expected a readable '
                         'image file')
    assert errors[1].startswith('ERROR train: label ') and 'label values [77] outside 0..18' \
        in errors[1]
    assert errors[2].startswith(f'ERROR val: label {val_label}: cannot be decoded')
    assert 'FAILED: 3 problem(s) in train, val of' in out

    rc, out = _check_tool(SEG, '--split', 'train', *_root_opts(tmp_path / 'nowhere'))
    assert rc == 1
    assert (f"ERROR train_dataloader.dataset.data_root: '{tmp_path / 'nowhere'}' does not "
            'exist') in out
    assert 'train: not scanned (bad paths above)' in out


# ------------------------------------------------------------------------------------ hook
def _runner(dataset, sampler, iter_based, num_workers=0, work_dir=None, logger=None):
    from mmengine.runner.loops import _InfiniteDataloaderIterator
    loader = DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=pseudo_collate,
                        num_workers=num_workers, persistent_workers=num_workers > 0)
    loop = SimpleNamespace(dataloader=loader, _max_epochs=2, _max_iters=2 * len(loader))
    if iter_based:
        loop.dataloader_iterator = _InfiniteDataloaderIterator(loader)
    return SimpleNamespace(train_loop=loop, val_loop=None, model=torch.nn.Linear(1, 1),
                           logger=logger or MMLogger.get_instance('test_dataset_checks'),
                           work_dir=None if work_dir is None else str(work_dir))


def _hook(**kw):
    from mcl_mm.engine.hooks import DatasetCheckHook
    return DatasetCheckHook(**kw)


def _damage_two(cityscapes):
    (cityscapes / TRAIN_IMG).write_bytes(b'')
    _set_label(cityscapes / TRAIN_LABEL.replace('aachen', 'bochum'),
               lambda a: a.__setitem__((0, 0), 50))


def test_hook_error_lists_every_bad_file(cityscapes):
    _damage_two(cityscapes)
    dataset = _city_dataset(cityscapes)
    runner = _runner(dataset, DefaultSampler(dataset, shuffle=False), iter_based=False)
    with pytest.raises(BadDataError) as e:
        _hook(max_listed=1).before_train(runner)
    msg = str(e.value)
    assert msg.startswith('DatasetCheckHook: 2 problem(s) in the train set '
                          '(train_dataloader.dataset), found before training:\n'
                          f'image {cityscapes / TRAIN_IMG}: is empty (0 bytes)')
    assert '... and 1 more' in msg and "policy='skip'" in msg


@pytest.mark.parametrize('iter_based', [False, True])
def test_hook_skip_drops_bad_samples(cityscapes, iter_based):
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets import CityscapesDataset
    from mmseg.datasets.transforms import LoadAnnotations
    _damage_two(cityscapes)
    dataset = CityscapesDataset(
        data_root=str(cityscapes), pipeline=[LoadImageFromFile(), LoadAnnotations()],
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))
    sampler = (InfiniteSampler(dataset, shuffle=False) if iter_based else
               DefaultSampler(dataset, shuffle=False))
    runner = _runner(dataset, sampler, iter_based, num_workers=1 if iter_based else 0)
    _hook(policy='skip').before_train(runner)
    assert len(dataset) == 2
    paths = {dataset.get_data_info(i)['img_path'] for i in range(2)}
    assert str(cityscapes / TRAIN_IMG) not in paths
    loop = runner.train_loop
    if iter_based:  # the iterator (and its worker) made before the skip was replaced
        batches = [next(loop.dataloader_iterator) for _ in range(3)]
    else:
        assert len(sampler) == 2 and loop._max_iters == 2
        batches = list(loop.dataloader)
    assert {p for b in batches for p in b['img_path']} == paths


def test_hook_skip_needs_a_plain_dataset_and_a_good_sample(cityscapes):
    from mmengine.dataset import ConcatDataset
    _damage_two(cityscapes)
    dataset = ConcatDataset([_city_dataset(cityscapes)])
    runner = _runner(dataset, DefaultSampler(dataset), iter_based=False)
    with pytest.raises(BadDataError, match='is a wrapper'):
        _hook(policy='skip').before_train(runner)
    for img in (cityscapes / 'leftImg8bit' / 'train').rglob('*.png'):
        img.write_bytes(b'')
    dataset = _city_dataset(cityscapes)
    runner = _runner(dataset, DefaultSampler(dataset), iter_based=False)
    with pytest.raises(BadDataError, match='every sample of the train set has a bad file'):
        _hook(policy='skip').before_train(runner)
    with pytest.raises(ValueError, match="policy must be one of"):
        _hook(policy='ignore')


@pytest.mark.slow
def test_hook_stops_train_py_before_the_first_iteration(cityscapes, tmp_path):
    _set_label(cityscapes / TRAIN_LABEL, lambda a: a.__setitem__((slice(0, 4), 0), 77))
    cfg = tmp_path / 'checked.py'
    cfg.write_text(f"_base_ = ['{REPO / SEG}']\n"
                   "custom_hooks = [dict(type='mcl_mm.DatasetCheckHook')]\n")
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(tmp_path / 'work'),
         *_root_opts(cityscapes), 'train_cfg.max_iters=2', 'train_dataloader.batch_size=2'],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert ('BadDataError: DatasetCheckHook: 1 problem(s) in the train set '
            '(train_dataloader.dataset), found before training:\n'
            f'label {cityscapes / TRAIN_LABEL}: label values [77] outside 0..18 (ignore 255)'
            ) in proc.stderr
    assert 'Iter(train)' not in proc.stdout + proc.stderr


# ------------------------------------------- bounded checks at scale: stat all, decode a sample
def _linked_imagenet(root, source, num, classes=10):
    """ImageNet layout of ``num`` entries (``meta/train.txt``), each a symbolic link to one of
    the training images of the synthetic set ``source``."""
    images = sorted((source / 'train').rglob('*.JPEG'))
    lines = []
    for i in range(num):
        wnid = f'n{i % classes:08d}'
        folder = root / 'train' / wnid
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / f'{wnid}_{i}.JPEG'
        link.symlink_to(images[i % len(images)])
        lines.append(f'{wnid}/{link.name} {i % classes}')
    (root / 'meta').mkdir(exist_ok=True)
    (root / 'meta' / 'train.txt').write_text('\n'.join(lines) + '\n')
    return root


def _entry(root, i, classes=10):
    wnid = f'n{i % classes:08d}'
    return root / 'train' / wnid / f'{wnid}_{i}.JPEG'


def _replace(path, data=None):
    """Replace the link ``path`` by a regular file holding ``data`` (a copy of its target by
    default); the shared target is left alone."""
    data = path.read_bytes() if data is None else data
    path.unlink()
    path.write_bytes(data)


def _imagenet(root):
    from mmpretrain.datasets import ImageNet
    return ImageNet(data_root=str(root), ann_file='meta/train.txt', data_prefix='train',
                    pipeline=[])


@pytest.fixture
def linked(synthetic_data, tmp_path):
    """An ImageNet-layout index of 30 links to 10 synthetic images."""
    return _linked_imagenet(tmp_path / 'linked', synthetic_data('imagenet', num_train=10,
                                                                 num_val=10), 30)


@pytest.fixture
def decodes(monkeypatch):
    """The paths the scan decodes, in a list (cleared by the test as it likes)."""
    calls = []
    decode = checks._decode

    def counted(path, settings):
        calls.append(path)
        return decode(path, settings)
    monkeypatch.setattr(checks, '_decode', counted)
    return calls


def test_default_checks_every_file_and_decodes_a_bounded_sample(synthetic_data, tmp_path,
                                                                decodes):
    root = _linked_imagenet(tmp_path / 'in', synthetic_data('imagenet', num_train=10,
                                                            num_val=10), 60)
    assert checks.sample_indices(60, 4) == [0, 20, 39, 59]  # the decoded samples
    gone = tmp_path / 'gone.JPEG'
    _entry(root, 7).unlink()
    _entry(root, 7).symlink_to(gone)                 # a broken link
    _entry(root, 13).unlink()                        # missing
    _replace(_entry(root, 33), b'')                  # empty
    _entry(root, 45).unlink()
    _entry(root, 45).mkdir()                         # a folder
    _replace(_entry(root, 20), b'not a jpeg' * 30)   # corrupt, in the decoded sample
    _replace(_entry(root, 21), b'not a jpeg' * 30)   # corrupt, outside it
    dataset = _imagenet(root)
    result = DatasetScan(dataset, max_decode=4).run()
    assert [str(p) for p in result.problems] == [
        f'image {_entry(root, 7)}: does not exist (a symbolic link to {gone}, which does not '
        'exist)',
        f'image {_entry(root, 13)}: does not exist',
        f"image {_entry(root, 20)}: cannot be decoded by mmcv.imfrombytes(flag='color', "
        "backend='cv2') (300 bytes; truncated or not an image); expected a readable image "
        'file',
        f'image {_entry(root, 33)}: is empty (0 bytes); expected a readable image file',
        f'image {_entry(root, 45)}: is a folder; expected a readable image file']
    assert [p.indices for p in result.problems] == [(7, ), (13, ), (20, ), (33, ), (45, )]
    assert (result.samples, result.files, result.decoded) == (60, 60, 4)
    assert sorted(decodes) == sorted(str(_entry(root, i)) for i in (0, 20, 39, 59))

    # full mode: every sample decoded (but the files already reported), entry 21 found too
    decodes.clear()
    full = DatasetScan(dataset, max_decode=None).run()
    assert full.decoded_all and full.decoded == 60
    assert len(decodes) == 60 - 4
    assert [p.indices for p in full.problems] == [(7, ), (13, ), (20, ), (21, ), (33, ), (45, )]
    assert [str(p) for p in check_dataset(dataset)] == [str(p) for p in full.problems]


def test_unreadable_file_is_found_by_its_mode(tmp_path, monkeypatch):
    path = tmp_path / 'secret.png'
    path.write_bytes(b'x' * 10)
    path.chmod(0o600)
    owner = path.stat().st_uid
    # this process as another user in no group of the file: the mode bits deny reading, and
    # access() (asked to confirm, as ACLs may allow it) says so too
    monkeypatch.setattr(checks.os, 'access', lambda p, mode: False)
    code, what = checks._stat_file(str(path), (owner + 1, frozenset()))
    assert code == 'unreadable'
    assert what == (f'is not readable by this process (-rw-------, owner uid {owner}, group '
                    f'{path.stat().st_gid}); expected a readable image file')
    # the owner may read it; access() is not asked
    code, what = checks._stat_file(str(path), (owner, frozenset()))
    assert what is None and code == f'10:{path.stat().st_mtime_ns}'


def _log():
    lines = []
    return lines, SimpleNamespace(info=lines.append, warning=lines.append)


def _start(root, work_dir, **kw):
    """A (re)start of training on the set at ``root``: a new data set and runner, the hook's
    ``before_train``; returns (data set, the hook's log lines)."""
    dataset = _imagenet(root)
    lines, logger = _log()
    runner = _runner(dataset, DefaultSampler(dataset, shuffle=False), iter_based=False,
                     work_dir=work_dir, logger=logger)
    _hook(**kw).before_train(runner)
    return dataset, lines


def test_record_skips_the_decode_until_the_data_set_changes(linked, tmp_path, decodes):
    work = tmp_path / 'work'
    _, log = _start(linked, work, max_decode=5)
    assert len(decodes) == 5
    assert log[0].startswith('DatasetCheckHook: train set: 30 samples: 30 files checked to be '
                             'present, readable and not empty in ')
    assert '5 evenly spread samples decoded in ' in log[0] and log[0].endswith('no problems')
    records = list((work / 'dataset_checks').glob('*.json'))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert (record['max_decode'], record['decoded'], record['problems']) == (5, 5, [])
    assert f'recorded in {records[0]}' in log[0]

    def restart(**kw):
        decodes.clear()
        _, lines = _start(linked, work, **kw)
        return len(decodes), lines[0]

    n, line = restart(max_decode=5)  # --resume: the same data
    assert n == 0
    assert f'decode of 5 evenly spread samples remembered from {records[0]}' in line
    # the content of a listed file changed (a new file there: new size or time)
    _replace(_entry(linked, 3))
    assert restart(max_decode=5)[0] == 5
    assert restart(max_decode=5)[0] == 0
    # touched: the same size, a new modification time
    st = os.stat(_entry(linked, 3))
    os.utime(_entry(linked, 3), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert restart(max_decode=5)[0] == 5
    # an entry added to the list
    image = os.readlink(_entry(linked, 0))
    extra = linked / 'train' / 'n00000000' / 'n00000000_extra.JPEG'
    extra.symlink_to(image)
    with open(linked / 'meta' / 'train.txt', 'a') as f:
        f.write('n00000000/n00000000_extra.JPEG 0\n')
    assert restart(max_decode=5)[0] == 5
    # another number of samples to decode: decoded; a full decode covers any sample after it
    assert restart(max_decode=6)[0] == 6
    assert restart(max_decode=None)[0] == 31
    n, line = restart(max_decode=5)
    assert n == 0 and 'decode of all 31 samples remembered' in line
    # remember=False: decoded on every start, nothing read
    assert restart(max_decode=5, remember=False)[0] == 5
    # an unreadable or foreign record is no record
    for path in (work / 'dataset_checks').glob('*.json'):
        path.write_text('{"mark": "something else"')
    assert restart(max_decode=5)[0] == 5


def test_remembered_problems_are_skipped_again_on_resume(linked, tmp_path, decodes):
    work = tmp_path / 'work'
    bad = _entry(linked, 0)  # the first sample is always in the decoded sample
    _replace(bad, b'\xff\xd8 not a jpeg')
    dataset, log = _start(linked, work, max_decode=5, policy='skip')
    assert len(decodes) == 5 and len(dataset) == 29
    assert str(bad) not in {dataset.get_data_info(i)['img_path'] for i in range(29)}
    decodes.clear()
    dataset, log = _start(linked, work, max_decode=5, policy='skip')
    assert decodes == [] and len(dataset) == 29  # the same samples as before the restart
    assert any(line.startswith(f'DatasetCheckHook: skipping 1 train sample(s) of image {bad}: '
                               'cannot be decoded') for line in log)
    # the same record under policy='error': the error, still without decoding
    with pytest.raises(BadDataError, match=f'1 problem.*\nimage {bad}: cannot be decoded'):
        _start(linked, work, max_decode=5)
    assert decodes == []


def test_fingerprint_and_findings_do_not_depend_on_the_number_of_processes(linked, monkeypatch,
                                                                           decodes):
    monkeypatch.setattr(checks, 'CHUNK', 7)
    _replace(_entry(linked, 9), b'')
    _entry(linked, 16).unlink()
    dataset = _imagenet(linked)
    scan = DatasetScan(dataset, max_decode=6)
    assert len(scan.chunks) == 5  # 30 samples in units of 7
    single = scan.file_pass()
    fingerprint = scan.fingerprint([single])
    assert len(single.problems) == 2
    skip = frozenset(p[2] for p in single.problems)
    for world_size in (2, 3):
        passes = [scan.file_pass(rank, world_size) for rank in range(world_size)]
        assert scan.fingerprint(passes) == fingerprint
        assert sorted(p for fp in passes for p in fp.problems) == sorted(single.problems)
        decodes.clear()
        for rank in range(world_size):
            assert scan.decode_pass(skip, rank, world_size) == []
        # each sample of the plan decoded once, by one process
        assert sorted(decodes) == sorted(dataset.get_data_info(i)['img_path']
                                         for _, ix in scan.decode_plan() for i in ix)
        with pytest.raises(ValueError, match='miss units'):
            scan.fingerprint(passes[:1])
    # what the checks depend on is in the fingerprint too
    other = DatasetScan(dataset, num_classes=5, max_decode=6)
    assert other.fingerprint([other.file_pass()]) != fingerprint
    assert DEFAULT_MAX_DECODE == _hook().max_decode == 200


def _dist_worker(rank, world_size, init_file, root, work_dir, out_dir):
    import torch.distributed as tdist

    from mcl_mm.datasets import checks as dist_checks
    tdist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                             world_size=world_size)
    dist_checks.CHUNK = 7  # 5 units of the 30 samples: both processes check files
    calls = []
    decode = dist_checks._decode
    dist_checks._decode = lambda path, settings: calls.append(path) or decode(path, settings)
    from pathlib import Path
    out = {}
    for start in ('first', 'resume'):
        calls.clear()
        dataset, log = _start(Path(root), work_dir, max_decode=6)
        out[start] = dict(decodes=list(calls), log=log,
                          records=len(list(Path(work_dir, 'dataset_checks').glob('*.json'))))
    # a failure in one process is raised in every process (no process waits forever)
    stat_file = dist_checks._stat_file
    if rank == 1:
        def failing(path, ids):
            raise PermissionError('stat refused')
        dist_checks._stat_file = failing
    try:
        _start(Path(root), work_dir, max_decode=6)
        out['failure'] = 'none'
    except Exception as e:  # noqa: BLE001
        out['failure'] = f'{type(e).__name__}: {e}'
    dist_checks._stat_file = stat_file
    # bad data: every process raises the same error
    if rank == 0:
        _replace(_entry(Path(root), 15), b'')
    tdist.barrier()
    try:
        _start(Path(root), work_dir, max_decode=6)
        out['bad'] = 'none'
    except BadDataError as e:
        out['bad'] = str(e)
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(out, f)
    tdist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_share_the_check_and_decide_alike(linked, tmp_path):
    import torch.multiprocessing as mp
    work = tmp_path / 'work'
    mp.spawn(_dist_worker, args=(2, str(tmp_path / 'init'), str(linked), str(work),
                                 str(tmp_path)), nprocs=2)
    out = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    first = [set(o['first']['decodes']) for o in out]
    assert len(first[0]) + len(first[1]) == 6 and not first[0] & first[1]  # shared
    assert [o['resume']['records'] for o in out] == [1, 1]  # written once, by process 0
    assert [o['resume']['decodes'] for o in out] == [[], []]  # both read the record
    def untimed(lines):
        return [re.sub(r'in [0-9.]+ s', 'in T s', line) for line in lines]
    assert untimed(out[0]['resume']['log']) == untimed(out[1]['resume']['log'])
    assert 'remembered' in out[0]['resume']['log'][0]
    assert out[1]['failure'].startswith('PermissionError: stat refused')
    assert out[0]['failure'].startswith('RuntimeError: the data set check failed in process 1: '
                                        'PermissionError: stat refused')
    assert out[0]['bad'] == out[1]['bad']
    assert f'image {_entry(linked, 15)}: is empty (0 bytes)' in out[0]['bad']


@pytest.mark.slow
def test_tool_full_decode_record_serves_the_hook(cityscapes, tmp_path, decodes):
    from mmengine.registry import DATASETS, init_default_scope
    records = tmp_path / 'records'
    rc, out = _check_tool(SEG, '--split', 'train', '--record-dir', records,
                          *_root_opts(cityscapes))
    assert rc == 0, out
    written = list(records.glob('*.json'))
    assert len(written) == 1
    assert 'all 4 samples decoded in ' in out and f'recorded in {written[0]}' in out
    rc, out = _check_tool(SEG, '--split', 'train', '--max-decode', '2', '--record-dir',
                          records, *_root_opts(cityscapes))
    assert rc == 0 and f'decode of all 4 samples remembered from {written[0]}' in out
    # the run's hook (same data set, classes and pipeline) finds the tool's record
    cfg = _seg_cfg(cityscapes)
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    result = DatasetScan(dataset, num_classes=19, max_decode=2).run(str(records))
    assert result.remembered and decodes == [] and result.problems == []


@pytest.mark.slow
def test_benchmark_runs_first_start_and_resume(tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark_dataset_check.py', '--entries', '300',
         '--val-entries', '20', '--city-entries', '12', '--city-val-entries', '3',
         '--max-decode', '5', '--work-dir', str(tmp_path / 'bench')],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-4000:]
    assert 'imagenet: 300 train + 20 val entries, links to 8 JPEGs of 500x375' in out
    assert 'cityscapes: 12 train + 3 val image/label pairs, links to 4 pairs of 2048x1024' in out
    first, resume = out.split('  first start: ')[1:], out.split('  resume     : ')[1:]
    assert len(first) == len(resume) == 2
    for text in first:
        assert '5 evenly spread samples decoded in' in text.split('resume')[0]
    assert '    train: 300 samples: 300 files checked' in out
    assert '    train: 12 samples: 24 files checked' in out  # image and label map
    assert out.count('decode of 5 evenly spread samples remembered from') == 3  # not City val
    assert out.count('decode of all 3 samples remembered from') == 1  # the Cityscapes val set
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r'tools/benchmark_dataset_check.py --entries 300 --city-entries 12 --max-decode 5: '
        r'imagenet \(300 '
        r'entries\) first start [0-9.]+ s \(hook [0-9.]+ s\), resume [0-9.]+ s \(hook [0-9.]+ '
        r's\); cityscapes \(12 entries\) first start .* \(time to iteration 1 from building the '
        r'runner\)', summary), summary

"""Bad input -> a clear error naming the config key or file and what was expected:
mcl_mm.datasets.checks, tools/misc/check_dataset.py and mcl_mm.DatasetCheckHook.

The synthetic sets of the ``synthetic_data`` fixture are shared, so each test damages a copy.
"""
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
from mcl_mm.datasets.checks import (
    BadDataError,
    cfg_num_classes,
    check_data_roots,
    check_dataset,
    find_data_root_problems,
    format_problems,
)

SEG = 'configs/baselines/deeplabv3_r18_synthetic-cityscapes.py'
DET = 'configs/baselines/retinanet_r18_fpn_synthetic-coco.py'
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
    from mcl_mm.datasets import ImageNetDataset
    data = _copy(synthetic_data, tmp_path, 'imagenet', num_train=10, num_val=10)
    meta = data / 'meta' / 'train.txt'
    lines = meta.read_text().splitlines()
    lines[1] = lines[1].rsplit(' ', 1)[0] + ' 10'  # an 11th class the 10-class model lacks
    meta.write_text('\n'.join(lines) + '\n')
    dataset = ImageNetDataset(data_root=str(data), ann_file='meta/train.txt',
                              data_prefix='train', pipeline=[])
    assert check_dataset(dataset) == []  # the data set alone infers 11 classes
    cfg = Config.fromfile(str(REPO / CLS))
    assert cfg_num_classes(cfg.model) == 10
    problems = check_dataset(dataset, num_classes=10)
    img = data / 'train' / lines[1].split()[0]
    assert [str(p) for p in problems] == [
        f'sample {img}: gt_label 10 (listed in {meta}) outside 0..9 (the model\'s '
        "num_classes, 10; the data set has 11); expected a class index"]


def test_cifar_needs_no_file_check_and_cohort_classes(synthetic_data):
    from mcl_mm.datasets import CIFAR100Dataset
    dataset = CIFAR100Dataset(data_root=str(synthetic_data('cifar100', num_train=20,
                                                           num_val=10)), pipeline=[])
    assert check_dataset(dataset) == []
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
def _runner(dataset, sampler, iter_based, num_workers=0):
    from mmengine.runner.loops import _InfiniteDataloaderIterator
    loader = DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=pseudo_collate,
                        num_workers=num_workers, persistent_workers=num_workers > 0)
    loop = SimpleNamespace(dataloader=loader, _max_epochs=2, _max_iters=2 * len(loader))
    if iter_based:
        loop.dataloader_iterator = _InfiniteDataloaderIterator(loader)
    return SimpleNamespace(train_loop=loop, val_loop=None, model=torch.nn.Linear(1, 1),
                           logger=MMLogger.get_instance('test_dataset_checks'))


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

"""mcl_mm.testing.synthetic_data, mcl_mm.CamVidDataset and tools/misc/make_synthetic_data.py.

Every format is checked for its exact layout, for determinism, for loading with the stock
dataset class and pipeline, for a perfect stock-metric score when the ground truth is the
prediction (and a low one for a wrong prediction), and for carrying class signal (a
nearest-class-mean colour classifier, fitted on train, is accurate on val).
"""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.registry import DefaultScope
from pycocotools.coco import COCO

from mcl_mm.testing import synthetic_data as syn

NUM_TRAIN, NUM_VAL = 8, 4  # the sets of conftest's ``synthetic_data`` fixture


def _files(root):
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob('*') if p.is_file()}


def _read(path, flag=cv2.IMREAD_UNCHANGED):
    img = cv2.imread(str(path), flag)
    assert img is not None, path
    return img


def _nearest_mean_accuracy(train, val, ignore=(255, )):
    """Pixel accuracy on ``val`` of the nearest class-mean colour classifier fitted on
    ``train``; both are lists of (BGR image, label map)."""
    def pixels(pairs):
        x = np.concatenate([img.reshape(-1, 3) for img, _ in pairs]).astype(np.float32)
        y = np.concatenate([label.ravel() for _, label in pairs])
        keep = ~np.isin(y, ignore)
        return x[keep], y[keep]

    x, y = pixels(train)
    classes = np.unique(y)
    means = np.stack([x[y == c].mean(0) for c in classes])
    xv, yv = pixels(val)
    pred = classes[np.argmin(((xv[:, None] - means[None]) ** 2).sum(-1), axis=1)]
    return float((pred == yv).mean())


# ------------------------------------------------------------------------- layout + determinism
def _expected_layout(fmt):
    """Relative paths written with num_train=3, num_val=2."""
    if fmt == 'cityscapes':
        stems = [('train', 'aachen', '000000'), ('train', 'bochum', '000000'),
                 ('train', 'aachen', '000001'), ('val', 'frankfurt', '000000'),
                 ('val', 'munster', '000000')]
        return {f'{top}/{split}/{city}/{city}_{seq}_000019_{suffix}.png'
                for split, city, seq in stems
                for top, suffix in (('leftImg8bit', 'leftImg8bit'),
                                    ('gtFine', 'gtFine_labelTrainIds'),
                                    ('gtFine', 'gtFine_labelIds'))}
    if fmt == 'voc':
        ids = ['2008_000000', '2008_000001', '2008_000002', '2009_000000', '2009_000001',
               '2011_000000', '2011_000001', '2011_000002']
        return ({f'VOC2012/JPEGImages/{i}.jpg' for i in ids}
                | {f'VOC2012/SegmentationClassAug/{i}.png' for i in ids}
                | {f'VOC2012/SegmentationClass/{i}.png' for i in ids[:5]}
                | {f'VOC2012/ImageSets/Segmentation/{s}.txt'
                   for s in ('train', 'val', 'trainval', 'aug')})
    if fmt == 'camvid':
        names = {'train': ['0001TP_000000', '0006R0_000000', '0001TP_000030'],
                 'val': ['0016E5_000000', '0016E5_000030'],
                 'test': ['Seq05VD_000000', 'Seq05VD_000030']}
        return {f'{split}{annot}/{name}.png' for split, split_names in names.items()
                for name in split_names for annot in ('', 'annot')}
    if fmt in ('coco_det', 'coco_pose'):
        files = {f'train2017/{i:012d}.jpg' for i in (1, 2, 3)}
        files |= {f'val2017/{i:012d}.jpg' for i in (500001, 500002)}
        files |= {f'annotations/instances_{s}2017.json' for s in ('train', 'val')}
        if fmt == 'coco_pose':
            files |= {f'annotations/person_keypoints_{s}2017.json' for s in ('train', 'val')}
        return files
    if fmt == 'cifar100':  # the release's folder, and the manifest of its md5 sums beside it
        return {f'cifar-100-python/{name}' for name in ('train', 'test', 'meta')} | {
            'cifar-100-python.synthetic.json'}
    assert fmt == 'imagenet'
    return {'train/n01440764/n01440764_1.JPEG', 'train/n01443537/n01443537_1.JPEG',
            'train/n01484850/n01484850_1.JPEG', 'val/n01440764/ILSVRC2012_val_00000001.JPEG',
            'val/n01443537/ILSVRC2012_val_00000002.JPEG', 'meta/train.txt', 'meta/val.txt'}


@pytest.mark.parametrize('fmt', list(syn.FORMATS))
def test_layout_and_determinism(fmt, tmp_path):
    size = (32, 32) if fmt == 'cifar100' else (48, 64)  # CIFAR's size is fixed
    kw = dict(num_train=3, num_val=2, size=size)
    out = syn.FORMATS[fmt](str(tmp_path / 'a'), seed=0, **kw)
    assert out == str(tmp_path / 'a')
    first = _files(out)
    assert set(first) == _expected_layout(fmt)
    for name in first:
        if name.endswith(('.png', '.jpg', '.JPEG')):
            assert _read(tmp_path / 'a' / name).shape[:2] == size, name
    assert _files(syn.FORMATS[fmt](str(tmp_path / 'b'), seed=0, **kw)) == first
    other = _files(syn.FORMATS[fmt](str(tmp_path / 'c'), seed=1, **kw))
    assert set(other) == set(first)
    assert all(other[n] != first[n] for n in first
               if n.endswith(('.png', '.jpg', '.JPEG', 'python/train', 'python/test')))


def test_defaults_and_cli(tmp_path):
    assert set(syn.DEFAULT_SIZES) == set(syn.DEFAULT_COUNTS) == set(syn.FORMATS)
    assert syn.DEFAULT_SIZES['cityscapes'] == (128, 256)
    assert syn.DEFAULT_SIZES['camvid'][0] * 4 == syn.DEFAULT_SIZES['camvid'][1] * 3
    out = tmp_path / 'cs'
    proc = subprocess.run(
        [sys.executable, 'tools/misc/make_synthetic_data.py', 'cityscapes', str(out),
         '--num-train', '2', '--num-val', '1', '--size', '64', '128', '--seed', '0'],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f'to {out}' in proc.stdout and 'leftImg8bit/train/aachen/: 1 files' in proc.stdout
    imgs = sorted(out.glob('leftImg8bit/*/*/*_leftImg8bit.png'))
    assert len(imgs) == 3 and _read(imgs[0]).shape == (64, 128, 3)
    made = _files(syn.make_cityscapes(str(tmp_path / 'py'), 2, 1, (64, 128), seed=0))
    assert _files(out) == made


# ---------------------------------------------------------------------------- segmentation
def _seg_dataset(cls_or_type, scope='mmseg', **kw):
    """A segmentation data set with the stock test pipeline, built in ``scope``."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]
    with DefaultScope.overwrite_default_scope(scope):
        if isinstance(cls_or_type, str):
            from mmengine.registry import DATASETS
            return DATASETS.build(dict(type=cls_or_type, pipeline=pipeline, **kw))
        return cls_or_type(pipeline=pipeline, **kw)


def _seg_labels(dataset):
    with DefaultScope.overwrite_default_scope('mmseg'):
        return [dataset[i]['data_samples'].gt_sem_seg.data for i in range(len(dataset))]


def _iou_scores(dataset, labels):
    """mIoU of IoUMetric for the ground truth and for a wrong (shifted) prediction."""
    from mmseg.evaluation import IoUMetric
    num_classes = len(dataset.metainfo['classes'])
    scores = []
    for shift in (0, 1):
        metric = IoUMetric()
        metric.dataset_meta = dataset.metainfo
        for gt in labels:
            pred = torch.where(gt == 255, gt, (gt + shift) % num_classes)
            metric.process([], [dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))])
        scores.append(metric.evaluate(len(labels))['mIoU'])
    return scores


def _values(labels):
    return set(torch.cat([x.flatten() for x in labels]).unique().tolist())


def test_cityscapes_loads_and_scores(synthetic_data):
    from mmseg.datasets import CityscapesDataset
    root = synthetic_data('cityscapes')
    for split, num in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        dataset = _seg_dataset(
            CityscapesDataset, data_root=str(root),
            data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'))
        assert len(dataset) == num
        labels = _seg_labels(dataset)
        values = _values(labels)
        assert 255 in values and values - {255} <= set(range(19)) and len(values) > 10
    perfect, wrong = _iou_scores(dataset, labels)
    assert perfect == pytest.approx(100.0) and wrong < 5
    # labelIds is labelTrainIds in the original ids (ego vehicle = 1)
    train_ids = _read(next(root.glob('gtFine/val/*/*_labelTrainIds.png')))
    ids = _read(str(next(root.glob('gtFine/val/*/*_labelTrainIds.png'))).replace(
        'labelTrainIds', 'labelIds'))
    lut = {**dict(enumerate(syn.CITYSCAPES_TRAINID_TO_ID)), 255: syn.CITYSCAPES_EGO_VEHICLE_ID}
    assert all((ids[train_ids == t] == i).all() for t, i in lut.items())

    def pairs(split):
        images = sorted(root.glob(f'leftImg8bit/{split}/*/*.png'))
        return [(_read(p), _read(root / 'gtFine' / split / p.parent.name /
                                 p.name.replace('leftImg8bit', 'gtFine_labelTrainIds')))
                for p in images]

    assert _nearest_mean_accuracy(pairs('train'), pairs('val')) > 0.8


def test_voc_loads_and_scores(synthetic_data):
    from mmseg.datasets import PascalVOCDataset
    root = synthetic_data('voc') / 'VOC2012'
    sets = root / 'ImageSets' / 'Segmentation'
    train_ids = sets.joinpath('train.txt').read_text().split()
    assert len(train_ids) == NUM_TRAIN
    assert sets.joinpath('aug.txt').read_text().split()[:NUM_TRAIN] == train_ids
    # SegmentationClass: palette PNGs with the VOC colour map, read as class indices
    from PIL import Image
    png = Image.open(root / 'SegmentationClass' / f'{train_ids[0]}.png')
    assert png.mode == 'P' and png.getpalette()[:6] == [0, 0, 0, 128, 0, 0]
    dataset = _seg_dataset(PascalVOCDataset, data_root=str(root),
                           data_prefix=dict(img_path='JPEGImages',
                                            seg_map_path='SegmentationClass'),
                           ann_file='ImageSets/Segmentation/train.txt')
    assert len(dataset) == NUM_TRAIN and len(dataset.metainfo['classes']) == 21
    labels = _seg_labels(dataset)
    assert _values(labels) - {255} <= set(range(21)) and 255 in _values(labels)
    aug = _seg_dataset(PascalVOCDataset, data_root=str(root),
                       data_prefix=dict(img_path='JPEGImages',
                                        seg_map_path='SegmentationClassAug'),
                       ann_file='ImageSets/Segmentation/aug.txt')
    assert len(aug) == 2 * NUM_TRAIN
    aug_labels = _seg_labels(aug)
    assert 255 not in _values(aug_labels) and _values(aug_labels) <= set(range(21))
    for boundary, plain in zip(labels, aug_labels):  # the same labels up to the boundaries
        keep = boundary != 255
        assert (boundary[keep] == plain[keep]).all() and keep.float().mean() > 0.7
    val = _seg_dataset(PascalVOCDataset, data_root=str(root),
                       data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                       ann_file='ImageSets/Segmentation/val.txt')
    assert len(val) == NUM_VAL
    perfect, wrong = _iou_scores(val, _seg_labels(val))
    assert perfect == pytest.approx(100.0) and wrong < 5

    def pairs(split):
        return [(_read(root / 'JPEGImages' / f'{i}.jpg'),
                 _read(root / 'SegmentationClassAug' / f'{i}.png'))
                for i in sets.joinpath(f'{split}.txt').read_text().split()]

    assert _nearest_mean_accuracy(pairs('train'), pairs('val')) > 0.8


def test_camvid_dataset_maps_void_and_scores(synthetic_data):
    import mmseg.datasets  # noqa: F401  mmseg's transforms

    from mcl_mm.datasets import CamVidDataset
    assert CamVidDataset.VOID_INDEX == syn.CAMVID_VOID
    assert len(CamVidDataset.METAINFO['classes']) == syn.CAMVID_NUM_CLASSES
    root = synthetic_data('camvid')
    raw = [_read(p) for p in sorted(root.glob('valannot/*.png'))]
    assert len(raw) == NUM_VAL and set(np.unique(np.stack(raw))) <= set(range(12))
    assert (np.stack(raw) == 11).any()
    assert len(list(root.glob('test/*.png'))) == len(list(root.glob('testannot/*.png'))) == 4
    # built from a config, as in an mmseg config with custom_imports=['mcl_mm']
    dataset = _seg_dataset('mcl_mm.CamVidDataset', data_root=str(root),
                           data_prefix=dict(img_path='val', seg_map_path='valannot'))
    assert isinstance(dataset, CamVidDataset) and len(dataset) == NUM_VAL
    assert dataset.metainfo['palette'] == CamVidDataset.METAINFO['palette']
    labels = _seg_labels(dataset)
    for gt, file in zip(labels, raw):  # void -> 255, classes unchanged
        assert (gt[0].numpy() == np.where(file == 11, 255, file)).all()
    perfect, wrong = _iou_scores(dataset, labels)
    assert perfect == pytest.approx(100.0) and wrong < 5
    # a class subset keeps the stock label map and still maps void to 255
    subset = _seg_dataset(CamVidDataset, data_root=str(root),
                          data_prefix=dict(img_path='val', seg_map_path='valannot'),
                          metainfo=dict(classes=('Sky', 'Road', 'Car')))
    gt = _seg_labels(subset)[0][0].numpy()
    assert set(np.unique(gt)) <= {0, 1, 2, 255}
    assert (gt[raw[0] == 11] == 255).all() and (gt[raw[0] == 3] == 1).all()
    assert subset.metainfo['palette'] == [[128, 128, 128], [128, 64, 128], [64, 0, 128]]

    def pairs(split):
        return [(_read(p), _read(root / f'{split}annot' / p.name))
                for p in sorted(root.glob(f'{split}/*.png'))]

    assert _nearest_mean_accuracy(pairs('train'), pairs('val'), ignore=(11, )) > 0.8


# ------------------------------------------------------------------------------------ COCO
def _check_coco_json(path, categories):
    data = json.loads(Path(path).read_text())
    assert set(data) == {'info', 'licenses', 'images', 'annotations', 'categories'}
    assert data['categories'] == categories
    for img in data['images']:
        assert {'id', 'file_name', 'height', 'width'} <= set(img)
    ids = [a['id'] for a in data['annotations']]
    assert len(set(ids)) == len(ids)
    coco = COCO(str(path))
    for ann in data['annotations']:
        assert {'id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd',
                'segmentation'} <= set(ann)
        if not ann['iscrowd']:
            assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann['segmentation'])
        mask = coco.annToMask(ann)  # the segmentation is the drawn object
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann['bbox']
        assert mask.sum() == pytest.approx(ann['area'], rel=0.3)
        assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h
    return data, coco


def test_coco_det_loads_and_scores(synthetic_data):
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    root = synthetic_data('coco_det')
    ann_file = root / 'annotations' / 'instances_val2017.json'
    data, coco = _check_coco_json(ann_file, list(syn.COCO_DET_CATEGORIES))
    assert all(len(a['segmentation']) == 1 for a in data['annotations'])
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                dict(type='PackDetInputs')]
    kw = dict(data_root=str(root), ann_file='annotations/instances_val2017.json',
              data_prefix=dict(img='val2017/'), pipeline=pipeline)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(metainfo=dict(classes=syn.COCO_DET_CLASSES), **kw)
        stock = CocoDataset(**kw)  # the first five COCO classes: same labels with 80 classes
        samples = [dataset[i] for i in range(len(dataset))]
    assert len(dataset) == NUM_VAL and dataset.metainfo['classes'] == syn.COCO_DET_CLASSES
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [[x['bbox_label'] for x in d['instances']] for d in infos] == [
        [x['bbox_label'] for x in stock.get_data_info(i)['instances']] for i in range(len(stock))]
    assert sum(len(s['data_samples'].gt_instances) for s in samples) == len(data['annotations'])
    for sample in samples:
        gt = sample['data_samples'].gt_instances
        assert gt.labels.max() < len(syn.COCO_DET_CLASSES) and len(gt.masks) == len(gt)

    rng = np.random.default_rng(0)
    scores = []
    for random in (False, True):
        metric = CocoMetric(ann_file=str(ann_file), metric='bbox')
        metric.dataset_meta = dataset.metainfo
        for info in infos:
            boxes = np.array([x['bbox'] for x in info['instances']], np.float32)
            if random:
                boxes = np.sort(rng.uniform(0, 160, boxes.shape).astype(np.float32)
                                .reshape(-1, 2, 2), axis=1).reshape(-1, 4)
            pred = dict(bboxes=torch.from_numpy(boxes),
                        scores=torch.ones(len(boxes)),
                        labels=torch.tensor([x['bbox_label'] for x in info['instances']]))
            metric.process({}, [dict(img_id=info['img_id'], ori_shape=(128, 160),
                                     pred_instances=pred)])
        scores.append(metric.evaluate(len(infos))['coco/bbox_mAP'])
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.1

    # learnable: object pixels (and the background) by nearest class-mean colour
    def pairs(split):
        ann = COCO(str(root / 'annotations' / f'instances_{split}2017.json'))
        out = []
        for img_id in ann.getImgIds():
            label = np.zeros((128, 160), np.uint8)
            for a in ann.loadAnns(ann.getAnnIds(imgIds=img_id)):
                label[ann.annToMask(a) > 0] = a['category_id']
            out.append((_read(root / f'{split}2017' / ann.imgs[img_id]['file_name']), label))
        return out

    assert _nearest_mean_accuracy(pairs('train'), pairs('val'), ignore=()) > 0.8


def test_coco_pose_loads_and_scores(synthetic_data):
    from mmpose.datasets import CocoDataset
    from mmpose.evaluation import CocoMetric
    root = synthetic_data('coco_pose')
    ann_file = root / 'annotations' / 'person_keypoints_val2017.json'
    category = dict(syn.COCO_PERSON, keypoints=list(syn.COCO_KEYPOINTS),
                    skeleton=syn.COCO_SKELETON)
    persons = []
    for split in ('train', 'val'):
        data, coco = _check_coco_json(
            root / 'annotations' / f'person_keypoints_{split}2017.json', [category])
        boxes = json.loads((root / 'annotations' / f'instances_{split}2017.json').read_text())
        assert boxes['categories'] == [syn.COCO_PERSON]
        assert [(b['id'], b['bbox']) for b in boxes['annotations']] == [
            (a['id'], a['bbox']) for a in data['annotations']]
        anns = data['annotations']
        crowd = [a for a in anns if a['iscrowd']]
        zero = [a for a in anns if not a['iscrowd'] and a['num_keypoints'] == 0]
        assert crowd and zero  # kept, as in the real files
        assert all(set(a['segmentation']) == {'counts', 'size'} for a in crowd)
        assert all(a['num_keypoints'] == 0 and not any(a['keypoints']) for a in crowd + zero)
        persons.append([a for a in anns if not a['iscrowd'] and a['num_keypoints'] > 0])
        for a in persons[-1]:
            kpts = np.array(a['keypoints']).reshape(17, 3)
            assert a['num_keypoints'] == (kpts[:, 2] > 0).sum()
            x, y, w, h = a['bbox']
            vis = kpts[kpts[:, 2] > 0]
            assert (vis[:, 0] >= x).all() and (vis[:, 0] < x + w).all()
            assert (vis[:, 1] >= y).all() and (vis[:, 1] < y + h).all()

    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(64, 96)), dict(type='PackPoseInputs')]
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = CocoDataset(data_root=str(root),
                              ann_file='annotations/person_keypoints_val2017.json',
                              data_prefix=dict(img='val2017/'), data_mode='topdown',
                              test_mode=True, pipeline=pipeline)
        sample = dataset[0]
    assert len(dataset) == len(persons[1])  # crowd and keypoint-less boxes are skipped
    assert tuple(sample['inputs'].shape) == (3, 96, 64)

    scores = []
    for shift in (0, 8):
        metric = CocoMetric(ann_file=str(ann_file))
        metric.dataset_meta = dataset.metainfo
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            metric.process({}, [dict(
                id=info['id'], img_id=info['img_id'], category_id=1,
                pred_instances=dict(keypoints=info['keypoints'] + shift,
                                    keypoint_scores=np.ones((1, 17), np.float32)),
                gt_instances=dict(bbox_scores=info['bbox_score']))])
        scores.append(metric.evaluate(len(dataset))['coco/AP'])
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.3

    # the keypoints are on the drawn figure: off the grey background, and the person's left
    # elbow/knee (mid-limb) on the limbs drawn in the "left" colour, the right ones on "right"
    left, right = (syn.style_colour(syn.FIGURE_PARTS[s]) for s in ('left', 'right'))
    grey = syn.style_colour(0)
    on_figure, sides = [], []
    coco = COCO(str(ann_file))
    for a in persons[1]:
        img = _read(root / 'val2017' / coco.imgs[a['image_id']]['file_name']).astype(float)
        kpts = np.array(a['keypoints']).reshape(17, 3)
        for k, (x, y, v) in enumerate(kpts):
            if v:
                colour = img[y, x]
                on_figure.append(np.linalg.norm(colour - grey) > 40)
                name = syn.COCO_KEYPOINTS[k]
                if name.endswith(('elbow', 'knee')):
                    closer_left = np.linalg.norm(colour - left) < np.linalg.norm(colour - right)
                    sides.append(closer_left == name.startswith('left'))
    assert np.mean(on_figure) > 0.95 and np.mean(sides) > 0.95


# -------------------------------------------------------------------------------- ImageNet
def test_imagenet_meta_and_classes(synthetic_data):
    # sorted: class-folder readers (mmpretrain's CustomDataset) give the labels of meta/*.txt
    assert list(syn.IMAGENET_WNIDS) == sorted(syn.IMAGENET_WNIDS)
    root = synthetic_data('imagenet', num_train=40, num_val=20)
    samples = {}  # per split: (mean colour of the non-background pixels, label) per image
    for split, num in (('train', 40), ('val', 20)):
        lines = (root / 'meta' / f'{split}.txt').read_text().splitlines()
        assert len(lines) == num
        files = sorted(str(p.relative_to(root / split)) for p in root.glob(f'{split}/*/*.JPEG'))
        assert sorted(line.split()[0] for line in lines) == files
        samples[split] = []
        for line in lines:
            path, label = line.split()
            wnid, name = path.split('/')
            assert syn.IMAGENET_WNIDS[int(label)] == wnid
            if split == 'val':
                assert name.startswith('ILSVRC2012_val_') and len(name) == len(
                    'ILSVRC2012_val_00000001.JPEG')
            img = _read(root / split / path).reshape(-1, 3).astype(np.float32)
            obj = img[np.linalg.norm(img - syn.style_colour(0), axis=1) > 48]
            samples[split].append((obj.mean(0).reshape(1, 1, 3), np.array([[int(label)]])))
        assert {label.item() for _, label in samples[split]} == set(range(10))
    # learnable: the mean colour of the object names the class
    assert _nearest_mean_accuracy(samples['train'], samples['val']) > 0.8


# -------------------------------------------------------------------------------- CIFAR-100
def test_cifar100_classes_are_learnable(synthetic_data):
    # the pickle layout, the manifest and mcl_mm.SyntheticCIFAR100 are checked in
    # tests/test_classifier.py
    import pickle
    root = synthetic_data('cifar100', num_train=40, num_val=20) / 'cifar-100-python'
    samples = {}
    for split in ('train', 'test'):
        with open(root / split, 'rb') as f:
            raw = pickle.load(f, encoding='bytes')
        imgs = raw[b'data'].reshape(-1, 3, 32 * 32).transpose(0, 2, 1)[..., ::-1]  # BGR pixels
        samples[split] = []
        for img, label in zip(imgs.astype(np.float32), raw[b'fine_labels']):
            obj = img[np.linalg.norm(img - syn.style_colour(0), axis=1) > 48]
            samples[split].append((obj.mean(0).reshape(1, 1, 3), np.array([[label]])))
        assert {label.item() for _, label in samples[split]} == set(syn.CIFAR100_USED_LABELS)
    assert _nearest_mean_accuracy(samples['train'], samples['test']) > 0.8

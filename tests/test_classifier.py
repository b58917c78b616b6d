"""mcl_mm's image classification stack: ImageNet / CIFAR-100 data sets, transforms, the
class-balanced sampler, the Accuracy metric, CIFARResNet and ImageClassifier."""
import pickle
import re

import numpy as np
import pytest
import torch
from conftest import run_tool
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATA_SAMPLERS, DATASETS, METRICS, MODELS, TRANSFORMS, DefaultScope

from mcl_mm.testing import synthetic_data as syn
from mcl_mm.datasets.cifar import (
    CIFAR100_CLASSES,
    CIFAR100_COARSE_CLASSES,
    CIFAR100_FINE_TO_COARSE,
)
from mcl_mm.structures import ClsDataSample

IMAGENET_CFG = 'configs/baselines/resnet18_synthetic-imagenet.py'


def _build(registry, cfg, scope='mmseg'):
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def _imagenet(root, pipeline=(), **kw):
    return _build(DATASETS, dict(type='mcl_mm.ImageNetDataset', data_root=str(root),
                                 pipeline=list(pipeline), **kw))


# ---------------------------------------------------------------------------------- ImageNet
def test_imagenet_with_and_without_ann_file(synthetic_data):
    root = synthetic_data('imagenet', num_train=20, num_val=10)
    listed = _imagenet(root, ann_file='meta/train.txt', data_prefix=dict(img_path='train'))
    scanned = _imagenet(root, data_prefix='train')
    assert len(listed) == len(scanned) == 20
    for dataset in (listed, scanned):  # the class folders are the wnids, in label order
        assert dataset.metainfo['classes'] == syn.IMAGENET_WNIDS
    lines = (root / 'meta' / 'train.txt').read_text().split('\n')
    infos = [listed.get_data_info(i) for i in range(len(listed))]
    assert [(str(root / 'train' / line.split()[0]), int(line.split()[1]))
            for line in lines if line] == [(d['img_path'], d['gt_label']) for d in infos]
    pairs = sorted((d['img_path'], d['gt_label']) for d in infos)
    assert sorted((scanned.get_data_info(i)['img_path'], scanned.get_data_info(i)['gt_label'])
                  for i in range(len(scanned))) == pairs
    assert [listed.get_cat_ids(i) for i in range(3)] == [[0], [1], [2]]
    # classes given in metainfo are kept
    named = _imagenet(root, ann_file='meta/val.txt', data_prefix=dict(img_path='val'),
                      metainfo=dict(classes=syn.IMAGENET_NAMES))
    assert len(named) == 10 and named.metainfo['classes'] == syn.IMAGENET_NAMES

    # through the stock loader and PackClsInputs
    dataset = _imagenet(root, ann_file='meta/val.txt', data_prefix=dict(img_path='val'),
                        pipeline=[dict(type='LoadImageFromFile'),
                                  dict(type='mcl_mm.PackClsInputs')])
    item = dataset[3]
    assert item['inputs'].shape == (3, 64, 64) and item['inputs'].dtype == torch.uint8
    sample = item['data_samples']
    assert isinstance(sample, ClsDataSample) and sample.gt_label.tolist() == [3]
    assert sample.sample_idx == 3 and sample.img_path.endswith('.JPEG')
    assert sample.ori_shape == sample.img_shape == (64, 64)


def test_imagenet_errors(synthetic_data, tmp_path):
    root = synthetic_data('imagenet', num_train=20, num_val=10)
    with pytest.raises(FileNotFoundError, match='data_root'):
        _imagenet(tmp_path / 'missing', ann_file='meta/train.txt', data_prefix='train')
    with pytest.raises(FileNotFoundError, match='ann_file'):
        _imagenet(root, ann_file='meta/nope.txt', data_prefix='train')
    with pytest.raises(FileNotFoundError, match=r"data_prefix\['img_path'\]"):
        _imagenet(root, data_prefix='nope')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no class folders'):
        _imagenet(tmp_path / 'empty')
    bad = tmp_path / 'bad.txt'
    bad.write_text('a/1.JPEG 0\na/2.JPEG\n')
    with pytest.raises(ValueError, match='line 2'):
        _imagenet(root, ann_file=str(bad), data_prefix='train')
    with pytest.raises(ValueError, match='out of range'):
        _imagenet(root, ann_file='meta/train.txt', data_prefix='train',
                  metainfo=dict(classes=('a', 'b')))
    with pytest.raises(ValueError, match='2 classes but'):
        _imagenet(root, data_prefix='train', metainfo=dict(classes=('a', 'b')))


# --------------------------------------------------------------------------------- CIFAR-100
def _load(path, encoding):
    with open(path, 'rb') as f:
        return pickle.load(f, encoding=encoding)


def test_cifar100_pickles_have_the_release_layout(synthetic_data):
    folder = synthetic_data('cifar100', num_train=30, num_val=10) / 'cifar-100-python'
    assert sorted(p.name for p in folder.iterdir()) == ['meta', 'test', 'train']
    for split, num in (('train', 30), ('test', 10)):
        raw = _load(folder / split, 'bytes')  # as written by Python 2: bytes keys and names
        assert set(raw) == {b'filenames', b'batch_label', b'fine_labels', b'coarse_labels',
                            b'data'}
        assert raw[b'data'].dtype == np.uint8 and raw[b'data'].shape == (num, 3072)
        assert isinstance(raw[b'filenames'][0], bytes) and len(raw[b'filenames']) == num
        fine = raw[b'fine_labels']
        assert set(fine) == set(syn.CIFAR100_USED_LABELS) and all(0 <= x < 100 for x in fine)
        assert raw[b'coarse_labels'] == [CIFAR100_FINE_TO_COARSE[x] for x in fine]
        latin1 = _load(folder / split, 'latin1')  # torchvision's and mmpretrain's reading
        assert set(latin1) == {k.decode() for k in raw}
        assert (latin1['data'] == raw[b'data']).all() and latin1['fine_labels'] == fine
    meta = _load(folder / 'meta', 'latin1')
    assert meta['fine_label_names'] == list(CIFAR100_CLASSES)
    assert meta['coarse_label_names'] == list(CIFAR100_COARSE_CLASSES)
    assert len(set(CIFAR100_CLASSES)) == 100 and len(CIFAR100_COARSE_CLASSES) == 20
    assert CIFAR100_CLASSES[:3] == ('apple', 'aquarium_fish', 'baby')
    assert [CIFAR100_FINE_TO_COARSE.count(c) for c in range(20)] == [5] * 20
    with pytest.raises(ValueError, match='32x32'):
        syn.make_cifar100(str(folder.parent / 'x'), 2, 2, size=(48, 64))


def test_cifar100_dataset(synthetic_data, tmp_path):
    root = synthetic_data('cifar100', num_train=30, num_val=10)
    raw = _load(root / 'cifar-100-python' / 'test', 'bytes')
    for data_root in (root, root / 'cifar-100-python'):
        dataset = _build(DATASETS, dict(type='mcl_mm.CIFAR100Dataset', data_root=str(data_root),
                                        split='test', pipeline=[]))
        assert len(dataset) == 10 and dataset.metainfo['classes'] == CIFAR100_CLASSES
    info = dataset.get_data_info(4)
    assert info['img'].shape == (32, 32, 3) and info['img'].dtype == np.uint8
    # BGR HWC, as LoadImageFromFile gives: the row is the R, G, B planes
    assert (info['img'][..., ::-1].transpose(2, 0, 1).ravel() == raw[b'data'][4]).all()
    assert info['gt_label'] == raw[b'fine_labels'][4] and dataset.get_cat_ids(4) == [
        raw[b'fine_labels'][4]]
    packed = _build(DATASETS, dict(type='mcl_mm.CIFAR100Dataset', data_root=str(root),
                                   pipeline=[dict(type='mcl_mm.PackClsInputs')]))
    item = packed[0]
    assert len(packed) == 30 and item['inputs'].shape == (3, 32, 32)
    assert set(item['data_samples'].metainfo) == {'sample_idx', 'ori_shape', 'img_shape'}
    with pytest.raises(FileNotFoundError, match='data_root'):
        _build(DATASETS, dict(type='mcl_mm.CIFAR100Dataset', data_root=str(tmp_path)))
    with pytest.raises(ValueError, match='split'):
        _build(DATASETS, dict(type='mcl_mm.CIFAR100Dataset', data_root=str(root), split='val'))


# -------------------------------------------------------------------------------- transforms
def _transform(cfg, **results):
    return _build(TRANSFORMS, cfg)(dict(results))


def test_random_resized_crop_and_resize_edge():
    img = np.random.default_rng(0).integers(0, 255, (48, 96, 3), dtype=np.uint8)
    np.random.seed(0)
    out = _transform(dict(type='mcl_mm.RandomResizedCrop', scale=56), img=img)
    assert out['img'].shape == (56, 56, 3) and out['img_shape'] == (56, 56)
    out = _transform(dict(type='mcl_mm.RandomResizedCrop', scale=(40, 24)), img=img)
    assert out['img'].shape == (40, 24, 3)
    # deterministic under numpy's global seed
    crop = _build(TRANSFORMS, dict(type='mcl_mm.RandomResizedCrop', scale=8))
    np.random.seed(3)
    first = [crop.crop_box(48, 96) for _ in range(5)]
    np.random.seed(3)
    assert [crop.crop_box(48, 96) for _ in range(5)] == first
    for y, x, h, w in first:
        assert 0 <= y and y + h <= 48 and 0 <= x and x + w <= 96
        assert 0.08 * 48 * 96 * 0.8 <= h * w <= 48 * 96
    # no draw fits (the whole image, aspect 2 outside [3/4, 4/3]): the central 4:3 crop
    whole = _build(TRANSFORMS, dict(type='mcl_mm.RandomResizedCrop', scale=8,
                                       crop_ratio_range=(1.0, 1.0)))
    assert whole.crop_box(48, 96) == (0, 16, 48, 64)

    for edge, shape in (('short', (64, 128)), ('long', (32, 64)), ('width', (32, 64)),
                        ('height', (64, 128))):
        out = _transform(dict(type='mcl_mm.ResizeEdge', scale=64, edge=edge), img=img)
        assert out['img'].shape[:2] == out['img_shape'] == shape, edge
        assert out['scale_factor'] == (shape[1] / 96, shape[0] / 48)
    with pytest.raises(ValueError, match='edge'):
        _build(TRANSFORMS, dict(type='mcl_mm.ResizeEdge', scale=64, edge='side'))
    with pytest.raises(ValueError, match='scale'):
        _build(TRANSFORMS, dict(type='mcl_mm.RandomResizedCrop', scale=(1, 2, 3)))


def test_random_crop_pad_and_pack():
    img = np.arange(32 * 32 * 3, dtype=np.int64).reshape(32, 32, 3).astype(np.uint8) | 1
    np.random.seed(0)
    shifts = set()
    for _ in range(20):
        out = _transform(dict(type='mcl_mm.RandomCropPad', size=32, padding=4), img=img)
        crop = out['img']
        assert crop.shape == (32, 32, 3) and out['img_shape'] == (32, 32)
        padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
        matches = [(y, x) for y in range(9) for x in range(9)
                   if (padded[y:y + 32, x:x + 32] == crop).all()]
        assert matches  # a window of the zero-padded image
        shifts.add(matches[0])
    assert len(shifts) > 5
    with pytest.raises(ValueError, match='larger than the padded image'):
        _transform(dict(type='mcl_mm.RandomCropPad', size=48, padding=4), img=img)

    gray = np.zeros((5, 7), np.uint8)
    out = _transform(dict(type='mcl_mm.PackClsInputs'), img=img, gt_label=7, sample_idx=2,
                     img_shape=(32, 32), other=1)
    assert (out['inputs'].numpy() == img.transpose(2, 0, 1)).all()
    sample = out['data_samples']
    assert sample.gt_label.dtype == torch.long and sample.gt_label.tolist() == [7]
    assert set(sample.metainfo) == {'sample_idx', 'img_shape'}
    assert _transform(dict(type='mcl_mm.PackClsInputs'), img=gray)['inputs'].shape == (1, 5, 7)


# ----------------------------------------------------------------------------------- sampler
class _Labels:
    """A data set of labels only."""

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, idx):
        return [self.labels[idx]]


def _sampler(dataset, **kw):
    return DATA_SAMPLERS.build(dict(type='mcl_mm.ClassBalancedSampler', dataset=dataset, **kw))


def test_class_balanced_sampler_groups_and_determinism():
    labels = [c for c in range(5) for _ in range(6)]  # 5 classes x 6 images
    dataset = _Labels(np.random.default_rng(0).permutation(labels))
    sampler = _sampler(dataset, samples_per_class=2, seed=3)
    first = list(sampler)
    assert len(sampler) == len(first) == 30
    groups = np.array(first).reshape(-1, 2)
    assert all(len({dataset.labels[i] for i in g}) == 1 for g in groups)
    # balanced classes whose sizes m divides: one epoch is a permutation of the data
    assert sorted(first) == list(range(30))
    # each pass over the classes visits every class once
    group_classes = [dataset.labels[g[0]] for g in groups]
    assert all(sorted(group_classes[k:k + 5]) == list(range(5)) for k in range(0, 15, 5))
    assert list(_sampler(dataset, samples_per_class=2, seed=3)) == first
    assert list(_sampler(dataset, samples_per_class=2, seed=4)) != first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(second) == list(range(30))
    # no shuffling: classes and images in index order
    ordered = list(_sampler(dataset, samples_per_class=3, seed=0, shuffle=False))
    assert [dataset.labels[i] for i in ordered[:15:3]] == [0, 1, 2, 3, 4]
    assert ordered[:3] == sorted(i for i, c in enumerate(dataset.labels) if c == 0)[:3]
    # a class smaller than m repeats images within its group
    small = _Labels([0, 1, 1, 1, 1])
    groups = np.array(list(_sampler(small, samples_per_class=4, seed=0))).reshape(-1, 4)
    assert any(set(g) == {0} for g in groups)
    with pytest.raises(ValueError, match='samples_per_class'):
        _sampler(dataset, samples_per_class=0)
    with pytest.raises(ValueError, match='get_cat_ids'):
        _sampler(list(range(4)), samples_per_class=2)


def test_class_balanced_sampler_shards_whole_groups(monkeypatch):
    import mcl_mm.datasets.samplers.class_balanced_sampler as module
    dataset = _Labels([i % 3 for i in range(21)])
    per_rank = []
    for rank in range(2):
        monkeypatch.setattr(module, 'get_dist_info', lambda rank=rank: (rank, 2))
        sampler = _sampler(dataset, samples_per_class=2, seed=0)
        per_rank.append(list(sampler))
        assert len(sampler) == len(per_rank[-1]) == 12  # ceil(21 / 2 / 2) = 6 groups each
    groups = sampler.group_indices()  # the same on both ranks: 12 groups
    assert len(groups) == 12
    for rank in range(2):
        assert per_rank[rank] == [int(i) for g in groups[rank::2] for i in g]
        pairs = np.array(per_rank[rank]).reshape(-1, 2)
        assert all(dataset.labels[a] == dataset.labels[b] for a, b in pairs)


def test_class_balanced_sampler_in_a_dataloader(synthetic_data):
    """Built by the Runner's path, with its seed, on a real data set."""
    from mmengine.runner import Runner
    root = synthetic_data('imagenet', num_train=20, num_val=10)
    loader = Runner.build_dataloader(dict(
        batch_size=4, num_workers=0,
        sampler=dict(type='mcl_mm.ClassBalancedSampler', samples_per_class=2),
        dataset=dict(type='mcl_mm.ImageNetDataset', data_root=str(root),
                     ann_file='meta/train.txt', data_prefix='train',
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='mcl_mm.PackClsInputs')])), seed=0)
    batch = next(iter(loader))
    labels = [s.gt_label.item() for s in batch['data_samples']]
    assert labels[0] == labels[1] and labels[2] == labels[3]


# ---------------------------------------------------------------------------------- Accuracy
def test_accuracy_hand_case():
    metric = METRICS.build(dict(type='mcl_mm.Accuracy', topk=(1, 2, 5)))
    scores = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5]])
    labels = [0, 1, 1, 0]  # top-1: right, wrong, wrong, wrong; top-2: +sample 1 and 2
    samples = [ClsDataSample().set_pred_score(s).set_gt_label(y).to_dict()
               for s, y in zip(scores, labels)]
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    assert metric.evaluate(4) == {'accuracy/top1': 25.0, 'accuracy/top2': 75.0,
                                  'accuracy/top5': 100.0}
    top1 = METRICS.build(dict(type='mcl_mm.Accuracy', topk=1, prefix='cls'))
    top1.process({}, [dict(pred_label=torch.tensor([2]), gt_label=torch.tensor([2])),
                      dict(pred_label=torch.tensor([0]), gt_label=torch.tensor([1]))])
    assert top1.evaluate(2) == {'cls/top1': 50.0}
    with pytest.raises(ValueError, match='pred_score'):
        METRICS.build(dict(type='mcl_mm.Accuracy')).process(
            {}, [dict(pred_label=torch.tensor([2]), gt_label=torch.tensor([2]))])
    with pytest.raises(ValueError, match='topk'):
        METRICS.build(dict(type='mcl_mm.Accuracy', topk=(0, )))


# ---------------------------------------------------------------------------------- models
def test_cifar_resnet():
    from mcl_mm.models.backbones import CIFARResNet
    for depth in CIFARResNet.DEPTHS:
        net = CIFARResNet(depth=depth)
        assert [len(getattr(net, name)) for name in net.res_layers] == [(depth - 2) // 6] * 3
    assert net.res_layers == ['layer1', 'layer2', 'layer3']
    net = _build(MODELS, dict(type='mcl_mm.CIFARResNet', depth=32, out_indices=(0, 1, 2)))
    net.init_weights()
    outs = net(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]
    assert sum(p.numel() for p in net.parameters()) == 466256  # the MCL code's, less its fc
    assert tuple(net.conv1.weight.shape) == (16, 3, 3, 3) and isinstance(net.maxpool,
                                                                        torch.nn.Identity)
    assert isinstance(CIFARResNet().forward(torch.rand(1, 3, 32, 32)), tuple)
    deep = CIFARResNet(depth=110, block='bottleneck')
    assert [len(getattr(deep, n)) for n in deep.res_layers] == [12] * 3
    assert deep(torch.rand(1, 3, 32, 32))[0].shape == (1, 256, 8, 8)
    for kw in (dict(depth=18), dict(depth=32, block='bottleneck'), dict(block='wide')):
        with pytest.raises(ValueError, match='CIFARResNet'):
            CIFARResNet(**kw)


def _classifier(backbone=None, **head):
    backbone = backbone or dict(type='ResNet', depth=18, out_indices=(3, ))
    model = _build(MODELS, dict(type='mcl_mm.ImageClassifier', backbone=backbone,
                                head={**dict(num_classes=10, in_channels=512), **head}))
    model.init_weights()
    return model


def _batch(model, n=4, size=32):
    data = [dict(inputs=torch.randint(0, 255, (3, size, size), dtype=torch.uint8),
                 data_samples=ClsDataSample(metainfo=dict(sample_idx=i)).set_gt_label(i % 10))
            for i in range(n)]
    return model.data_preprocessor(pseudo_collate(data), False)


def test_image_classifier_modes():
    torch.manual_seed(0)
    model = _classifier()
    assert type(model.data_preprocessor).__name__ == 'ImgDataPreprocessor'
    assert model.data_preprocessor._channel_conversion  # bgr_to_rgb
    assert isinstance(model.head.fc, torch.nn.Linear) and model.head.fc.out_features == 10
    data = _batch(model)
    assert data['inputs'].dtype == torch.float32 and data['inputs'].shape == (4, 3, 32, 32)
    model.train()
    losses = model(**data, mode='loss')
    assert list(losses) == ['loss_cls'] and torch.isfinite(losses['loss_cls'])
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad is not None
    feats = model.extract_feat(data['inputs'])
    assert isinstance(feats, tuple) and feats[-1].shape == (4, 512, 1, 1)
    model.eval()
    with torch.no_grad():
        logits = model(**data, mode='tensor')
        samples = model(**data, mode='predict')
        bare = model(data['inputs'], mode='predict')
    assert logits.shape == (4, 10)
    for sample, row, fresh in zip(samples, logits, bare):
        assert sample.pred_score.shape == (10, ) and sample.pred_label.shape == (1, )
        assert torch.allclose(sample.pred_score, row.softmax(0))
        assert sample.pred_label.item() == row.argmax().item() == fresh.pred_label.item()
        assert 'gt_label' in sample and 'gt_label' not in fresh
    with pytest.raises(ValueError, match='mode'):
        model(**data, mode='features')
    # loss_weight scales, label smoothing changes the loss
    with torch.no_grad():
        base = model(**data, mode='loss')['loss_cls']
        model.head.loss_weight = 2.0
        assert torch.allclose(model(**data, mode='loss')['loss_cls'], 2 * base)
        model.head.loss_weight, model.head.label_smooth = 1.0, 0.1
        assert not torch.allclose(model(**data, mode='loss')['loss_cls'], base)


def test_image_classifier_config_errors():
    with pytest.raises(ValueError, match='in_channels'):
        model = _classifier()
        model.head.in_channels = 256
        model(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match='model.head.num_classes'):
        _classifier(num_classes=0)
    with pytest.raises(ValueError, match='label_smooth'):
        _classifier(label_smooth=1.0)
    with pytest.raises(ValueError, match='model.backbone'):
        _build(MODELS, dict(type='mcl_mm.ImageClassifier', backbone=None,
                            head=dict(num_classes=2, in_channels=8)))
    # the CIFAR backbone by name, and a data preprocessor dict without type updates the default
    model = _build(MODELS, dict(
        type='mcl_mm.ImageClassifier', backbone=dict(type='mcl_mm.CIFARResNet', depth=20),
        head=dict(num_classes=100, in_channels=64), data_preprocessor=dict(bgr_to_rgb=False)))
    assert not model.data_preprocessor._channel_conversion
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)


def test_backbone_weights_load_strictly_into_mmdet_resnet18(tmp_path):
    from mmdet.models.backbones import ResNet as MMDetResNet
    torch.manual_seed(0)
    model = _classifier()  # the mmseg scope's ResNet
    # train a step so that the BN statistics differ from a fresh network's
    model.train()
    model(**_batch(model), mode='loss')['loss_cls'].backward()
    backbone = {k[len('backbone.'):]: v for k, v in model.state_dict().items()
                if k.startswith('backbone.')}
    det = MMDetResNet(depth=18)
    det.load_state_dict(backbone, strict=True)
    model.eval()
    det.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(det(x)[3], model.extract_feat(x)[-1])
    # the usual path: an mmdet backbone initialised from the classifier's checkpoint
    ckpt = tmp_path / 'cls.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    det2 = _build(MODELS, dict(type='ResNet', depth=18, init_cfg=dict(
        type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')), scope='mmdet')
    det2.init_weights()
    assert all(torch.equal(v, backbone[k]) for k, v in det2.state_dict().items())
    # and mmdet's ResNet as the classifier's backbone
    mmdet_backbone = _classifier(dict(type='mmdet.ResNet', depth=18, out_indices=(3, ),
                                      norm_eval=False))
    assert type(mmdet_backbone.backbone) is MMDetResNet


# ---------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_imagenet_config_train_and_test(synthetic_data, tmp_path):
    data = synthetic_data('imagenet', num_train=20, num_val=10)
    loaders = ('train', 'val', 'test')
    opts = ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}' for s in loaders],
            *[f'{s}_dataloader.num_workers=0' for s in loaders],
            *[f'{s}_dataloader.persistent_workers=False' for s in loaders],
            'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=10']
    work = tmp_path / 'cls'
    log = run_tool('tools/train.py', IMAGENET_CFG, '--work-dir', str(work), *opts)
    assert re.search(r'accuracy/top1: \d+\.\d+\s+accuracy/top5: \d+\.\d+', log)
    ckpt = work / 'epoch_2.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    assert 'head.fc.weight' in state and 'backbone.layer4.1.bn2.running_var' in state
    log = run_tool('tools/test.py', IMAGENET_CFG, str(ckpt), '--work-dir',
                   str(tmp_path / 'test'), *opts)
    assert re.search(r'accuracy/top1: \d+\.\d+\s+accuracy/top5: \d+\.\d+', log)

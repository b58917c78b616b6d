"""Image classification on mmpretrain: the synthetic ImageNet and CIFAR-100 sets read by
mmpretrain's ``ImageNet`` / ``CIFAR100`` (the CIFAR pickles through ``mcl_mm.SyntheticCIFAR100``,
checked against the generator's checksums), the class-balanced sampler, ``mcl_mm.CIFARResNet``
on mmpretrain's ``ResNet``, and the classification configs through the tools."""
import json
import pickle
import re

import numpy as np
import pytest
import torch
from conftest import REPO, run_tool
from mmengine.config import Config
from mmengine.registry import DATA_SAMPLERS, DATASETS, MODELS, DefaultScope

import mcl_mm  # noqa: F401
from mcl_mm.testing import synthetic_data as syn

IMAGENET_CFG = 'configs/baselines/resnet18_synthetic-imagenet.py'
CIFAR_CFG = 'configs/baselines/resnet32_synthetic-cifar100.py'


def _build(registry, cfg, scope='mmpretrain'):
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def _cifar(root, split='train', pipeline=(), **kw):
    return _build(DATASETS, dict(type='mcl_mm.SyntheticCIFAR100', data_root=str(root),
                                 split=split, pipeline=list(pipeline), **kw))


def _load(path, encoding):
    with open(path, 'rb') as f:
        return pickle.load(f, encoding=encoding)


# ---------------------------------------------------------------------------------- ImageNet
def test_stock_imagenet_reads_the_synthetic_set(synthetic_data):
    """mmpretrain's ImageNet with split='train' reads meta/train.txt: the listed paths and
    labels, sample_idx and gt_label packed by PackInputs (what MCLCohort reads)."""
    from mmpretrain.datasets import ImageNet
    from mmpretrain.structures import DataSample
    root = synthetic_data('imagenet', num_train=20, num_val=10)
    dataset = _build(DATASETS, dict(type='ImageNet', data_root=str(root), split='train',
                                    pipeline=[dict(type='LoadImageFromFile'),
                                              dict(type='PackInputs')]))
    assert type(dataset) is ImageNet and len(dataset) == 20
    lines = (root / 'meta' / 'train.txt').read_text().split('\n')
    assert [(str(root / 'train' / line.split()[0]), int(line.split()[1]))
            for line in lines if line] == [
        (dataset.get_data_info(i)['img_path'], dataset.get_data_info(i)['gt_label'])
        for i in range(20)]
    assert [dataset.get_cat_ids(i) for i in range(3)] == [[0], [1], [2]]
    item = dataset[3]
    assert item['inputs'].shape == (3, 64, 64) and item['inputs'].dtype == torch.uint8
    sample = item['data_samples']
    assert isinstance(sample, DataSample) and sample.gt_label.tolist() == [3]
    assert sample.metainfo['sample_idx'] == 3 and sample.img_path.endswith('.JPEG')


# --------------------------------------------------------------------------------- CIFAR-100
def test_cifar100_pickles_have_the_release_layout(synthetic_data):
    from mmpretrain.datasets.categories import CIFAR100_CATEGORIES
    root = synthetic_data('cifar100', num_train=30, num_val=10)
    folder = root / 'cifar-100-python'
    assert sorted(p.name for p in folder.iterdir()) == ['meta', 'test', 'train']
    for split, num in (('train', 30), ('test', 10)):
        raw = _load(folder / split, 'bytes')  # as written by Python 2: bytes keys and names
        assert set(raw) == {b'filenames', b'batch_label', b'fine_labels', b'coarse_labels',
                            b'data'}
        assert raw[b'data'].dtype == np.uint8 and raw[b'data'].shape == (num, 3072)
        assert isinstance(raw[b'filenames'][0], bytes) and len(raw[b'filenames']) == num
        fine = raw[b'fine_labels']
        assert set(fine) == set(syn.CIFAR100_USED_LABELS) and all(0 <= x < 100 for x in fine)
        assert raw[b'coarse_labels'] == [syn.CIFAR100_FINE_TO_COARSE[x] for x in fine]
        latin1 = _load(folder / split, 'latin1')  # torchvision's and mmpretrain's reading
        assert set(latin1) == {k.decode() for k in raw}
        assert (latin1['data'] == raw[b'data']).all() and latin1['fine_labels'] == fine
    meta = _load(folder / 'meta', 'latin1')
    # the release's fine names are mmpretrain's categories, in its order
    assert meta['fine_label_names'] == list(syn.CIFAR100_CLASSES) == list(CIFAR100_CATEGORIES)
    assert meta['coarse_label_names'] == list(syn.CIFAR100_COARSE_CLASSES)
    assert len(syn.CIFAR100_COARSE_CLASSES) == 20
    assert [syn.CIFAR100_FINE_TO_COARSE.count(c) for c in range(20)] == [5] * 20
    # the manifest beside the release folder holds the pickles' md5 sums
    manifest = json.loads((root / syn.CIFAR100_MANIFEST).read_text())
    assert manifest['folder'] == 'cifar-100-python'
    assert manifest['md5'] == {name: syn.file_md5(folder / name)
                               for name in ('train', 'test', 'meta')}
    with pytest.raises(ValueError, match='32x32'):
        syn.make_cifar100(str(root / 'x'), 2, 2, size=(48, 64))


def test_synthetic_cifar100_loads_through_mmpretrain(synthetic_data):
    from mmpretrain.datasets import CIFAR100
    from mmpretrain.structures import DataSample
    root = synthetic_data('cifar100', num_train=30, num_val=10)
    raw = _load(root / 'cifar-100-python' / 'test', 'bytes')
    dataset = _cifar(root, 'test')
    assert isinstance(dataset, CIFAR100) and len(dataset) == 10
    assert dataset.metainfo['classes'] == syn.CIFAR100_CLASSES
    info = dataset.get_data_info(4)
    # RGB HWC, as the stock class gives it: the row is the R, G, B planes
    assert info['img'].shape == (32, 32, 3) and info['img'].dtype == np.uint8
    assert (info['img'].transpose(2, 0, 1).ravel() == raw[b'data'][4]).all()
    assert info['gt_label'] == raw[b'fine_labels'][4]
    assert dataset.get_cat_ids(4) == [raw[b'fine_labels'][4]]
    item = _cifar(root, pipeline=[dict(type='PackInputs')])[0]
    assert item['inputs'].shape == (3, 32, 32) and isinstance(item['data_samples'], DataSample)
    assert item['data_samples'].metainfo['sample_idx'] == 0
    # the stock class checks the release's md5 sums, which the synthetic pickles do not have
    with pytest.raises(RuntimeError, match='Cannot find CIFAR100 dataset'):
        _build(DATASETS, dict(type='CIFAR100', data_root=str(root), split='test',
                              download=False))
    with pytest.raises(ValueError, match='download=True'):
        _cifar(root, download=True)


def test_synthetic_cifar100_checksum_errors(synthetic_data, tmp_path):
    import shutil
    root = tmp_path / 'cifar'
    shutil.copytree(synthetic_data('cifar100', num_train=30, num_val=10), root)
    manifest = root / syn.CIFAR100_MANIFEST
    train = root / 'cifar-100-python' / 'train'
    data = train.read_bytes()
    train.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit changed
    with pytest.raises(ValueError, match=re.escape(f'{train}: its md5 sum is not the')):
        _cifar(root)
    train.write_bytes(data)
    assert len(_cifar(root)) == 30
    (root / 'cifar-100-python' / 'meta').unlink()
    with pytest.raises(FileNotFoundError, match='meta does not exist'):
        _cifar(root)
    manifest.write_text('{"md5": {"train": "0"}}')
    with pytest.raises(ValueError, match='expected {"md5"'):
        _cifar(root)
    manifest.unlink()
    with pytest.raises(FileNotFoundError, match=r"data_root: no cifar-100-python.synthetic.json"
                                                r" .* \(for the real release use "
                                                r"type='CIFAR100'\)"):
        _cifar(root)


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


@pytest.mark.parametrize('fmt', ['imagenet', 'cifar100'])
def test_class_balanced_sampler_in_a_dataloader(synthetic_data, fmt):
    """Built by the Runner's path, with its seed, on mmpretrain's data sets."""
    from mmengine.runner import Runner
    root = synthetic_data(fmt, num_train=20, num_val=10)
    dataset = (dict(type='ImageNet', data_root=str(root), split='train',
                    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
               if fmt == 'imagenet' else
               dict(type='mcl_mm.SyntheticCIFAR100', data_root=str(root), split='train',
                    pipeline=[dict(type='PackInputs')]))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(dict(
            batch_size=4, num_workers=0,
            sampler=dict(type='mcl_mm.ClassBalancedSampler', samples_per_class=2),
            dataset=dataset), seed=0)
        batch = next(iter(loader))
    labels = [s.gt_label.item() for s in batch['data_samples']]
    assert labels[0] == labels[1] and labels[2] == labels[3]


# ------------------------------------------------------------------------------------ models
def test_cifar_resnet():
    from mmpretrain.models.backbones import ResNet

    from mcl_mm.models.backbones import CIFARResNet
    for depth in CIFARResNet.DEPTHS:
        net = CIFARResNet(depth=depth)
        assert [len(getattr(net, name)) for name in net.res_layers] == [(depth - 2) // 6] * 3
    assert isinstance(net, ResNet) and net.res_layers == ['layer1', 'layer2', 'layer3']
    net = _build(MODELS, dict(type='mcl_mm.CIFARResNet', depth=32, out_indices=(0, 1, 2)))
    net.init_weights()
    outs = net(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]
    assert sum(p.numel() for p in net.parameters()) == 466256  # the MCL code's, less its fc
    assert tuple(net.conv1.weight.shape) == (16, 3, 3, 3) and isinstance(net.maxpool,
                                                                        torch.nn.Identity)
    # the reference's initialisation: no zero-initialised residual BN
    assert all(float(m.weight.min()) == 1.0 for m in net.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    assert isinstance(CIFARResNet().forward(torch.rand(1, 3, 32, 32)), tuple)
    deep = CIFARResNet(depth=110, block='bottleneck')
    assert [len(getattr(deep, n)) for n in deep.res_layers] == [12] * 3
    assert deep(torch.rand(1, 3, 32, 32))[0].shape == (1, 256, 8, 8)
    for kw in (dict(depth=18), dict(depth=32, block='bottleneck'), dict(block='wide'),
               dict(out_indices=(3, )), dict(num_stages=4)):
        with pytest.raises(ValueError, match='CIFARResNet'):
            CIFARResNet(**kw)


def test_cifar_config_builds_mmpretrain_classifier():
    """The CIFAR config's model is mmpretrain's ImageClassifier with the CIFAR ResNet, its
    preprocessor the config's top-level one (RGB images: no channel swap)."""
    from mmpretrain.models import ImageClassifier, LinearClsHead
    cfg = Config.fromfile(str(REPO / CIFAR_CFG))
    assert cfg.default_scope == 'mmpretrain'
    model = _build(MODELS, dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    assert type(model) is ImageClassifier and isinstance(model.head, LinearClsHead)
    assert type(model.backbone).__name__ == 'CIFARResNet'
    assert isinstance(model.head.fc, torch.nn.Linear) and model.head.fc.in_features == 64
    assert not model.data_preprocessor.to_rgb
    assert model(torch.rand(2, 3, 32, 32), mode='tensor').shape == (2, 100)


def test_backbone_weights_load_strictly_into_mmdet_resnet18(tmp_path):
    """mmpretrain's ResNet-18 (the ImageNet classifiers' backbone) has mmdet's keys: its
    weights go into an mmdet backbone through init_cfg=Pretrained with prefix='backbone.'."""
    from mmdet.models.backbones import ResNet as MMDetResNet
    torch.manual_seed(0)
    cfg = Config.fromfile(str(REPO / IMAGENET_CFG))
    model = _build(MODELS, dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    model.train()  # a step, so that the BN statistics differ from a fresh network's
    x = torch.rand(2, 3, 64, 64)
    model.backbone(x)
    backbone = {k[len('backbone.'):]: v for k, v in model.state_dict().items()
                if k.startswith('backbone.')}
    det = MMDetResNet(depth=18)
    det.load_state_dict(backbone, strict=True)
    model.eval()
    det.eval()
    with torch.no_grad():
        assert torch.allclose(det(x)[3], model.extract_feat(x, stage='backbone')[-1])
    ckpt = tmp_path / 'cls.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    det2 = _build(MODELS, dict(type='ResNet', depth=18, init_cfg=dict(
        type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')), scope='mmdet')
    det2.init_weights()
    assert all(torch.equal(v, backbone[k]) for k, v in det2.state_dict().items())


# ---------------------------------------------------------------------------------- end to end
def _opts(data, epochs=2, batch=10):
    loaders = ('train', 'val', 'test')
    return ['--cfg-options', *[f'{s}_dataloader.dataset.data_root={data}' for s in loaders],
            *[f'{s}_dataloader.num_workers=0' for s in loaders],
            *[f'{s}_dataloader.persistent_workers=False' for s in loaders],
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'default_hooks.checkpoint.interval={epochs}', f'train_dataloader.batch_size={batch}']


ACCURACY = r'accuracy/top1: (\d+\.\d+)\s+accuracy/top5: \d+\.\d+'


@pytest.mark.slow
def test_imagenet_config_train_test_and_dump(synthetic_data, tmp_path):
    data = synthetic_data('imagenet', num_train=20, num_val=10)
    work = tmp_path / 'cls'
    log = run_tool('tools/train.py', IMAGENET_CFG, '--work-dir', str(work), *_opts(data))
    top1 = re.findall(ACCURACY, log)[-1]
    ckpt = work / 'epoch_2.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    assert 'head.fc.weight' in state and 'backbone.layer4.1.bn2.running_var' in state
    out = tmp_path / 'results.pkl'
    log = run_tool('tools/test.py', IMAGENET_CFG, str(ckpt), '--work-dir',
                   str(tmp_path / 'test'), '--out', str(out), *_opts(data))
    assert re.findall(ACCURACY, log)[-1] == top1
    # as mmpretrain's tools/test.py --out: one dict per predicted sample
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 10
    assert results[0]['pred_score'].shape == (10, ) and 'gt_label' in results[0]
    hits = sum(int(r['pred_label'][0] == r['gt_label'][0]) for r in results)
    assert hits * 10.0 == pytest.approx(float(top1))


@pytest.mark.slow
def test_cifar_config_train_and_test(synthetic_data, tmp_path):
    """The synthetic CIFAR-100 config through the tools: mcl_mm.SyntheticCIFAR100, the
    class-balanced sampler and the CIFAR ResNet in mmpretrain's classifier."""
    data = synthetic_data('cifar100', num_train=40, num_val=20)
    work = tmp_path / 'cifar'
    log = run_tool('tools/train.py', CIFAR_CFG, '--work-dir', str(work), *_opts(data, 1, 8))
    assert 'DatasetCheckHook: train set: 40 samples' in log
    top1 = re.findall(ACCURACY, log)[-1]
    log = run_tool('tools/test.py', CIFAR_CFG, str(work / 'epoch_1.pth'), '--work-dir',
                   str(tmp_path / 'test'), *_opts(data, 1, 8))
    assert re.findall(ACCURACY, log)[-1] == top1

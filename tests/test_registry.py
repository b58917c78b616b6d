"""mcl_mm components are named from configs that keep a toolbox's default scope.

Each config below keeps ``default_scope`` of its toolbox, inherits stock ``mmseg::`` /
``mmdet::`` / ``mmpose::`` / ``mmpretrain::`` bases, imports mcl_mm with ``custom_imports`` and wraps stock
models in ``mcl_mm.ModelGroup``; the stock models nested inside must resolve in the
toolbox's scope, inline and through ``cfg_path``.
"""
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

import mcl_mm.registry

SEG_CFG = """
_base_ = ['mmseg::_base_/models/fcn_r50-d8.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
small = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[255, 255, 255],
                           size=(64, 64), pad_val=0, seg_pad_val=255),
    backbone=dict(type='ResNetV1c', depth=18, norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(type='FCNHead', in_channels=512, channels=16, num_convs=1, num_classes=19,
                     norm_cfg=norm_cfg, loss_decode=dict(type='CrossEntropyLoss')),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
model = dict(
    _delete_=True,
    type='mcl_mm.ModelGroup',
    members=[
        small,
        dict(cfg_path='mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
             pretrained=None, data_preprocessor=dict(size=(64, 64)),
             backbone=dict(norm_cfg=norm_cfg), decode_head=dict(norm_cfg=norm_cfg),
             auxiliary_head=dict(norm_cfg=norm_cfg)),
    ],
    predict_member=1)
"""

DET_CFG = """
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', 'mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    bbox_head=dict(num_classes=3))
model = dict(type='mcl_mm.ModelGroup', members=[{{_base_.model}}, {{_base_.model}}],
             _delete_=True)
"""

POSE_CFG = """
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
estimator = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0], std=[255, 255, 255]),
    backbone=dict(type='ResNet', depth=18),
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17,
              deconv_out_channels=(32, 32, 32), deconv_kernel_sizes=(4, 4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))
model = dict(type='mcl_mm.ModelGroup', members=[estimator, estimator])
"""

CLS_CFG = """
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
cifar = dict(
    type='ImageClassifier',
    backbone=dict(type='mcl_mm.CIFARResNet', depth=20),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=64))
model = dict(_delete_=True, type='mcl_mm.ModelGroup',
             members=[dict(cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py'), cifar])
"""


def _build(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text(textwrap.dedent(text))
    cfg = Config.fromfile(str(path))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return cfg, MODELS.build(cfg.model)


def test_registry_nodes_hang_under_mmengine_roots():
    from mmengine import registry as root
    assert mcl_mm.registry.MODELS.parent is root.MODELS
    assert mcl_mm.registry.HOOKS.parent is root.HOOKS
    assert mcl_mm.registry.DATASETS.parent is root.DATASETS
    assert mcl_mm.registry.MODELS.scope == 'mcl_mm'
    # lazy import through `locations`: the name resolves from the root in any scope
    with DefaultScope.overwrite_default_scope('mmseg'):
        assert root.MODELS.get('mcl_mm.ModelGroup').__name__ == 'ModelGroup'


def test_datasets_and_hooks_import_lazily_from_their_locations():
    code = '''
import mcl_mm, sys
from mmengine.registry import DATASETS, HOOKS, DefaultScope
assert 'mcl_mm.datasets' not in sys.modules and 'mcl_mm.engine.hooks' not in sys.modules
with DefaultScope.overwrite_default_scope('mmseg'):
    print(DATASETS.get('mcl_mm.CamVidDataset').__name__,
          HOOKS.get('mcl_mm.DistillLossWeightHook').__name__)
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.split() == ['CamVidDataset', 'DistillLossWeightHook'], out.stderr[-2000:]


def test_seg_group_in_mmseg_scope(tmp_path):
    from mmengine.structures import PixelData
    from mmseg.models import EncoderDecoder
    from mmseg.structures import SegDataSample
    cfg, model = _build(tmp_path, SEG_CFG)
    assert cfg.default_scope == 'mmseg'
    assert all(isinstance(m, EncoderDecoder) for m in model.members)
    assert model.members[1].decode_head.__class__.__name__ == 'ASPPHead'  # from cfg_path
    # the overrides given beside cfg_path are applied (BN instead of the stock SyncBN)
    assert type(model.members[1].backbone.stem[1]).__name__ == 'BatchNorm2d'
    assert model.members[1].data_preprocessor.size == (64, 64)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                        pad_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, 64, 64)))
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
                data_samples=samples)
    batch = model.data_preprocessor(data, True)
    losses = model(**batch, mode='loss')
    assert {'m0.decode.loss_ce', 'm1.decode.loss_ce', 'm1.aux.loss_ce'} <= set(losses)
    preds = model(**model.data_preprocessor(data, False), mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_det_group_in_mmdet_scope(tmp_path):
    from mmdet.models import RetinaNet
    from mmdet.testing import demo_mm_inputs
    cfg, model = _build(tmp_path, DET_CFG)
    assert cfg.default_scope == 'mmdet'
    assert all(isinstance(m, RetinaNet) for m in model.members)
    data = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_classes=3)
    with DefaultScope.overwrite_default_scope('mmdet'):
        losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert {'m0.loss_cls', 'm1.loss_bbox'} <= set(losses)


def test_pose_group_in_mmpose_scope(tmp_path):
    from mmpose.models import TopdownPoseEstimator
    from mmpose.testing import get_packed_inputs
    cfg, model = _build(tmp_path, POSE_CFG)
    assert cfg.default_scope == 'mmpose'
    assert all(isinstance(m, TopdownPoseEstimator) for m in model.members)
    data = get_packed_inputs(2, num_keypoints=17, img_shape=(64, 64), input_size=(64, 64),
                             heatmap_size=(16, 16))
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert {'m0.loss_kpt', 'm1.loss_kpt'} <= set(losses)


def test_cls_group_in_mmpretrain_scope(tmp_path):
    """Stock mmpretrain classifiers (one from its config, one with mcl_mm's CIFAR ResNet) in
    a group; mcl_mm's data set and sampler named from the mmpretrain scope."""
    from mmengine.registry import DATA_SAMPLERS, DATASETS
    from mmpretrain.models import ImageClassifier, ResNet
    from mmpretrain.structures import DataSample
    cfg, model = _build(tmp_path, CLS_CFG)
    assert cfg.default_scope == 'mmpretrain'
    assert all(isinstance(m, ImageClassifier) for m in model.members)
    assert type(model.members[0].backbone) is ResNet
    assert isinstance(model.members[1].backbone, ResNet)  # CIFARResNet extends it
    # the stock config's top-level data_preprocessor came with its model (as MMEngine's
    # Runner gives it), the inline model has mmpretrain's default: each sees its own
    assert model.members[0].data_preprocessor._enable_normalize
    assert model.members[0].data_preprocessor.to_rgb
    assert not model.members[1].data_preprocessor._enable_normalize
    assert model.per_member_preprocessing
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2,
                data_samples=[DataSample().set_gt_label(k) for k in (3, 7)])
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert {'m0.loss', 'm1.loss'} <= set(losses)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert DATASETS.get('mcl_mm.SyntheticCIFAR100').__name__ == 'SyntheticCIFAR100'
        assert DATA_SAMPLERS.get('mcl_mm.ClassBalancedSampler').__name__ == \
            'ClassBalancedSampler'


def test_bad_member_config_names_the_key():
    with DefaultScope.overwrite_default_scope('mmseg'):
        with pytest.raises(ValueError, match=r'model.members\[0\]'):
            MODELS.build(dict(type='mcl_mm.ModelGroup', members=[dict(depth=18)]))
        with pytest.raises(FileNotFoundError, match=r'model.members\[0\].cfg_path'):
            MODELS.build(dict(type='mcl_mm.ModelGroup', members=[dict(cfg_path='nope.py')]))


def test_a_stock_dict_given_another_type_names_the_merge():
    """Overriding a stock dict with another ``type`` keeps the stock dict's other keys
    (mmengine's merge): where the build then fails on an unexpected keyword, the error says
    which override did it (the HSJP pretext's MSRAHeatmap over MSPN's MegviiHeatmap)."""
    mspn = 'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_mspn50_8xb32-210e_coco-256x192.py'
    codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    with DefaultScope.overwrite_default_scope('mmpose'):
        with pytest.raises(TypeError, match=r"model.head.decoder: type 'MSRAHeatmap' replaces "
                                            r"the stock 'MegviiHeatmap' and keeps its "
                                            r'kernel_size .*_delete_=True'):
            MODELS.build(dict(type='mcl_mm.StockModel', cfg_path=mspn,
                              head=dict(out_channels=12, decoder=codec)))
    # a head at another stride, or one without an output layer of its own (CPM's): the
    # key and what the stock model needs
    cpm = 'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_cpm_8xb32-210e_coco-384x288.py'
    with DefaultScope.overwrite_default_scope('mmpose'):
        with pytest.raises(ValueError, match=r'model.head.decoder.heatmap_size=\(48, 64\) at '
                                             r'input_size \(192, 256\), .* expected '
                                             r'heatmap_size=\(24, 32\)'):
            MODELS.build(dict(type='mcl_mm.StockModel', cfg_path=cpm, head=dict(decoder=codec)))
        with pytest.raises(ValueError, match=r'model.head.out_channels=12, but the stock CPMHead'
                                             r' .* final_layer=None'):
            MODELS.build(dict(type='mcl_mm.StockModel', cfg_path=cpm, head=dict(
                out_channels=12, decoder=dict(codec, heatmap_size=(24, 32)))))
    # the walk also finds merges that build (BN over SyncBN keeps requires_grad, which BN
    # takes): only a failing build reports them; _delete_=True replaces the dict whole
    from mcl_mm.models.builder import replaced_types
    assert replaced_types(dict(backbone=dict(norm_cfg=dict(type='BN'))),
                          dict(backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True))),
                          'model') == ["model.backbone.norm_cfg: type 'BN' replaces the stock "
                                       "'SyncBN' and keeps its requires_grad"]
    assert replaced_types(dict(head=dict(decoder=dict(codec, _delete_=True))),
                          dict(head=dict(decoder=dict(type='MegviiHeatmap', kernel_size=5))),
                          'model') == []

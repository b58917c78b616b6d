"""The toolboxes' inference APIs on mcl_mm's method configs and their training checkpoints.

A user points mmseg's ``init_model``/``inference_model`` (mmseg's demos), ``MMSegInferencer``,
mmdet's ``DetInferencer``/``init_detector`` or mmpretrain's ``ImageClassificationInferencer``
at a CIRKD or MCL config and the checkpoint the run wrote; the prediction must be the
student's (the ``predict_member``'s) exactly as the stock model gives it from the exported
checkpoint in its own config.
"""
import re

import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mcl_mm.models.export import export_submodel

CIRKD = 'configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py'
SEG_COHORT = 'configs/mcl/deeplabv3-r18-halfx2_synthetic-cityscapes.py'
SEG_MEMBER = 'configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py'
DET_COHORT = 'configs/mcl/retinanet-r18x2_synthetic-coco.py'
DET_MEMBER = 'configs/baselines/retinanet-r18_synthetic-coco.py'
CLS_COHORT = 'configs/mcl/resnet18x2_synthetic-imagenet.py'
CLS_MEMBER = 'configs/baselines/resnet18_synthetic-imagenet.py'
RANDOM_TEACHER = dict(model=dict(teacher_ckpt=None, random_teacher=True))


def _training_checkpoint(cfg_path: str, path, cfg_options=None):
    """Build the method's model from its config with random weights (made distinct per member
    so that a wrong member shows), save it as the Runner does (state_dict + meta)."""
    cfg = Config.fromfile(str(REPO / cfg_path))
    cfg.merge_from_dict(cfg_options or {})
    init_default_scope(cfg.default_scope)
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        for k, member in enumerate(getattr(model, 'members', [])):
            for p in member.parameters():
                p.add_(0.05 * k * torch.randn_like(p))
            if hasattr(member, 'bbox_head'):  # scores above the test threshold, not ~0.01
                member.bbox_head.retina_cls.bias.zero_()
    metainfo = cfg.get('train_dataloader', {}).get('dataset', {}).get('metainfo', None)
    meta = dict(dataset_meta=metainfo.to_dict()) if metainfo else {}
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return str(path)


def _image(h=96, w=160, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize('cfg_path,member_cfg,prefix,options', [
    (CIRKD, SEG_MEMBER, 'student.', RANDOM_TEACHER),
    (SEG_COHORT, SEG_MEMBER, 'members.0.', None),
], ids=['cirkd', 'cohort'])
def test_mmseg_init_model_and_inferencer_give_the_students_prediction(
        tmp_path, cfg_path, member_cfg, prefix, options):
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    ckpt = _training_checkpoint(cfg_path, tmp_path / 'run.pth', options)
    stock_ckpt = str(tmp_path / 'stock.pth')
    export_submodel(ckpt, stock_ckpt, prefix)
    img = _image()
    stock = inference_model(init_model(str(REPO / member_cfg), stock_ckpt, device='cpu'), img)
    # init_model sets model.pretrained=None and model.train_cfg=None on any config
    model = init_model(str(REPO / cfg_path), ckpt, device='cpu', cfg_options=options)
    ours = inference_model(model, img)
    torch.testing.assert_close(ours.seg_logits.data, stock.seg_logits.data)
    assert torch.equal(ours.pred_sem_seg.data, stock.pred_sem_seg.data)
    cfg = Config.fromfile(str(REPO / cfg_path))
    cfg.merge_from_dict(options or {})
    inferred = MMSegInferencer(model=cfg, weights=ckpt, device='cpu')(
        img, return_datasamples=True)
    assert torch.equal(inferred.pred_sem_seg.data, stock.pred_sem_seg.data)


@pytest.mark.parametrize('key', ['pretrained', 'train_cfg'])
@pytest.mark.parametrize('cfg_path,options,parts', [
    (CIRKD, RANDOM_TEACHER, 'model.student'),
    (SEG_COHORT, None, 'model.members[k]'),
], ids=['cirkd', 'cohort'])
def test_a_composites_own_pretrained_or_train_cfg_names_where_it_belongs(
        cfg_path, options, parts, key):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(REPO / cfg_path))
    cfg.merge_from_dict(options or {})
    cfg.model[key] = 'x.pth' if key == 'pretrained' else dict(sampler=None)
    init_default_scope('mmseg')
    where = re.escape(f'{parts}.{key}')
    with pytest.raises(ValueError, match=rf'model\.{key}=.*{where}'):
        MODELS.build(cfg.model)


def test_mmdet_inferencer_and_init_detector_give_the_members_prediction(tmp_path):
    from mmdet.apis import DetInferencer, inference_detector, init_detector
    ckpt = _training_checkpoint(DET_COHORT, tmp_path / 'run.pth')
    stock_ckpt = str(tmp_path / 'stock.pth')
    export_submodel(ckpt, stock_ckpt, 'members.0.')
    img = _image(128, 160)
    stock = DetInferencer(model=str(REPO / DET_MEMBER), weights=stock_ckpt, device='cpu')(
        img, return_datasamples=True)['predictions'][0].pred_instances
    ours = DetInferencer(model=str(REPO / DET_COHORT), weights=ckpt, device='cpu')(
        img, return_datasamples=True)['predictions'][0].pred_instances
    assert len(stock) > 0
    torch.testing.assert_close(ours.bboxes, stock.bboxes)
    torch.testing.assert_close(ours.scores, stock.scores)
    # init_detector reads model.backbone unless cfg_options is given (any dict)
    model = init_detector(str(REPO / DET_COHORT), ckpt, device='cpu', cfg_options={})
    torch.testing.assert_close(inference_detector(model, img).pred_instances.bboxes,
                               stock.bboxes)


def test_mmpretrain_inferencer_gives_the_members_prediction(tmp_path):
    from mmpretrain.apis import ImageClassificationInferencer
    ckpt = _training_checkpoint(CLS_COHORT, tmp_path / 'run.pth')
    stock_ckpt = str(tmp_path / 'stock.pth')
    export_submodel(ckpt, stock_ckpt, 'members.0.')
    img = _image(64, 64)
    stock = ImageClassificationInferencer(str(REPO / CLS_MEMBER), pretrained=stock_ckpt,
                                          device='cpu')(img)[0]
    ours = ImageClassificationInferencer(str(REPO / CLS_COHORT), pretrained=ckpt,
                                         device='cpu')(img)[0]
    np.testing.assert_allclose(ours['pred_scores'], stock['pred_scores'], rtol=1e-5)
    assert ours['pred_label'] == stock['pred_label']

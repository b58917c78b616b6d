# RetinaNet with a ResNet-18 + FPN, the mmdet model of
# `mmdet::retinanet/retinanet_r18_fpn_1x_coco.py` (mmdet's RetinaNet at depth 18), trained from
# scratch on the synthetic COCO detection set (configs/_base_/datasets/synthetic_coco-det.py).
# Its NMS runs mmcv's compiled ops.
# Differences from the stock config, for a 2-core CPU: no ImageNet initialisation (the stock
# config downloads torchvision://resnet18 into the torch hub cache), 5 classes, 160x128 images,
# a short schedule (configs/_base_/schedules/synthetic-det_40e.py).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py', '../_base_/datasets/synthetic_coco-det.py',
    '../_base_/schedules/synthetic-det_40e.py'
]
model = dict(
    backbone=dict(depth=18, init_cfg=None, frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=[64, 128, 256, 512]),
    bbox_head=dict(num_classes=5))

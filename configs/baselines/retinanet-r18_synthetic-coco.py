# RetinaNet with a ResNet-18 + FPN, the mmdet model of
# `mmdet::retinanet/retinanet_r18_fpn_1x_coco.py`, trained from scratch on the synthetic COCO
# detection set (`python tools/misc/make_synthetic_data.py coco_det data/synthetic/coco_det`:
# five COCO categories with their real ids, boxes and polygon masks). Its NMS runs mmcv's
# compiled ops.
# Differences from the stock config, for a 2-core CPU: no ImageNet initialisation (the stock
# config downloads torchvision://resnet18; to use it, put the file somewhere local and set
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH)), 5 classes, 160x128
# images, a short schedule.
_base_ = ['mmdet::retinanet/retinanet_r18_fpn_1x_coco.py']

data_root = 'data/synthetic/coco_det/'
classes = ('person', 'bicycle', 'car', 'motorcycle', 'airplane')
metainfo = dict(classes=classes)
scale = (160, 128)  # (w, h): the synthetic images' own size
# from scratch: train every stage and the BN statistics (the stock config freezes the stem
# and keeps BN in eval mode, which only makes sense on top of ImageNet weights)
model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    bbox_head=dict(num_classes=len(classes)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 40
# from scratch the first iterations blow up without clipping
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[30, 37],
         gamma=0.1)
]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)

# Top-down heatmap pose estimation (SimpleBaseline: ResNet + deconv head), the mmpose recipe of
# `mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py` with a
# ResNet-18, trained from scratch on the synthetic COCO-keypoints set
# (`python tools/misc/make_synthetic_data.py coco_pose data/synthetic/coco_pose`).
# Differences from the stock config, for a 2-core CPU: ResNet-18 without ImageNet
# initialisation (the stock config downloads torchvision://resnet50), 96x64 crops with
# 24x16 heatmaps, a short schedule, and ground-truth person boxes at test time (there is no
# person-detection results file for the synthetic set).
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']

data_root = 'data/synthetic/coco_pose/'
codec = dict(type='MSRAHeatmap', input_size=(64, 96), heatmap_size=(16, 24), sigma=1)
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    head=dict(in_channels=512, deconv_out_channels=(64, 64, 64), decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, bbox_file=None, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[15], gamma=0.1, by_epoch=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)  # --auto-scale-lr: lr is for 16
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)

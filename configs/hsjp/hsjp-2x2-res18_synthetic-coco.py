# HSJP pretext on the synthetic COCO-keypoints set, sized for a 2-core CPU: the recipe of
# hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py with a ResNet-18 SimpleBaseline (the model of
# configs/baselines/td-hm-res18_synthetic-coco.py), a 2x2 grid on 96x64 crops (48x32 cells,
# K = 4, chance 1/4), 24x16 heatmaps (sigma=1), batch 16 and a short schedule.
# Data: `python tools/misc/make_synthetic_data.py coco_pose data/synthetic/coco_pose` (every
# non-crowd person box, also the keypoint-less ones). The exported backbone initialises
# td-hm-res18_hsjp-init_synthetic-coco.py; see configs/hsjp/README.md for the figures.
_base_ = ['./hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py']

grid = (2, 2)
data_root = 'data/synthetic/coco_pose/'
codec = dict(type='MSRAHeatmap', input_size=(64, 96), heatmap_size=(16, 24), sigma=1)
model = dict(
    backbone=dict(depth=18),
    head=dict(in_channels=512, out_channels=grid[0] * grid[1], deconv_out_channels=(64, 64, 64),
              decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle', seed=0),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, grid=grid, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, grid=grid, pipeline=val_pipeline))
test_dataloader = val_dataloader

max_epochs = 60
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[50], gamma=0.1, by_epoch=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)  # --auto-scale-lr: lr is for 16
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)

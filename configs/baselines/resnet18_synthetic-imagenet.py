# ResNet-18 image classifier (mcl_mm.ImageClassifier: backbone -> global average pooling ->
# linear layer, cross entropy), the recipe of mmpretrain's `resnet/resnet18_8xb32_in1k.py`,
# trained from scratch on the synthetic ImageNet-format set
# (`python tools/misc/make_synthetic_data.py imagenet data/synthetic/imagenet`: 64x64 images
# of the first 10 ILSVRC classes, labels 0..9 as in the real meta/*.txt).
# The backbone is mmseg's plain `ResNet` (not ResNetV1c): its state-dict keys are those of
# mmdet's `ResNet` used by Faster R-CNN / RetinaNet, so the classifier's `backbone.*` weights
# load into them strictly (`init_cfg=dict(type='Pretrained', prefix='backbone.',
# checkpoint=...)`).
# Differences from the stock recipe, for a 2-core CPU: 10 classes, images 4x smaller
# (RandomResizedCrop 56, test: short edge 64 then centre crop 56, as 224/256), batch 16
# with lr 0.05 and a cosine schedule of 15 epochs instead of batch 256 with lr 0.1 and 100
# epochs with steps at 30/60/90.
_base_ = ['../_base_/mcl_mm_runtime.py']  # imports mcl_mm; RNGStateHook for exact resume
default_scope = 'mmseg'

model = dict(
    type='mcl_mm.ImageClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, ), norm_eval=False),
    head=dict(num_classes=10, in_channels=512, loss_weight=1.0, topk=(1, 5)))

data_root = 'data/synthetic/imagenet'
dataset_type = 'mcl_mm.ImageNetDataset'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mcl_mm.RandomResizedCrop', scale=56),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mcl_mm.PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mcl_mm.ResizeEdge', scale=64, edge='short'),
    dict(type='CenterCrop', crop_size=56),
    dict(type='mcl_mm.PackClsInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/train.txt',
                 data_prefix=dict(img_path='train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/val.txt',
                 data_prefix=dict(img_path='val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mcl_mm.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator

max_epochs = 15
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

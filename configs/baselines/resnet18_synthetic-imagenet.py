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
# data as configs/_base_/datasets/imagenet_bs32.py; runtime: scope, mcl_mm, hooks, loops, logging
_base_ = ['../_base_/datasets/imagenet_bs32.py', '../_base_/cls_runtime.py']

model = dict(
    type='mcl_mm.ImageClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, ), norm_eval=False),
    head=dict(num_classes=10, in_channels=512, loss_weight=1.0, topk=(1, 5)))

data_root = 'data/synthetic/imagenet'
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
    batch_size=16, num_workers=2, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=2, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 15
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=1))

# ResNet-18 trained alone on ImageNet-1k at MCL's recipe (the authors' main_imagenet.py: SGD lr
# 0.1 with Nesterov momentum 0.9, weight decay 1e-4, batch 256 = 8 GPUs x 32, 90 epochs, lr
# x0.1 at epochs 30 and 60), from scratch: the member of resnet18x2_90e_imagenet.py and its
# independent-training baseline. Paper: 69.76 top-1.
_base_ = ['../_base_/datasets/imagenet_bs32.py', '../_base_/cls_runtime.py']
model = dict(
    type='mcl_mm.ImageClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, ), norm_eval=False),
    head=dict(num_classes=1000, in_channels=512, topk=(1, 5)))
max_epochs = 90
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)

# CIFAR ResNet-32 image classifier (mcl_mm.ImageClassifier with mcl_mm.CIFARResNet: 3x3 stem,
# three stages of 5 BasicBlocks with 16/32/64 channels), the CIFAR-100 recipe of the MCL code
# (`main_cifar.py`: random 32x32 crop of the 4-pixel padded image and horizontal flip, CIFAR
# mean/std, SGD with Nesterov momentum, weight decay 5e-4, cosine schedule, batches of pairs
# of same-class images from `MPerClassSampler(m=2)`, here mcl_mm.ClassBalancedSampler),
# trained from scratch on the synthetic CIFAR-100-format set
# (`python tools/misc/make_synthetic_data.py cifar100 data/synthetic/cifar100`: the pickles
# of cifar-100-python.tar.gz; 10 of the 100 classes are used, labels 0, 11, ..., 99).
# Differences from the reference, for a 2-core CPU: 200 training images instead of 50000,
# batch 32 instead of 128 and 30 epochs instead of 300 (lr 0.1 as there).
# data as configs/_base_/datasets/cifar100_bs128.py; runtime: scope, mcl_mm, hooks, loops, logging
_base_ = ['../_base_/datasets/cifar100_bs128.py', '../_base_/cls_runtime.py']

model = dict(
    type='mcl_mm.ImageClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[129.304, 124.070, 112.434],
        std=[68.170, 65.392, 70.418], bgr_to_rgb=True),
    backbone=dict(type='mcl_mm.CIFARResNet', depth=32),
    head=dict(num_classes=100, in_channels=64, loss_weight=1.0, topk=(1, 5)))

data_root = 'data/synthetic/cifar100'
train_dataloader = dict(batch_size=32, num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=50, num_workers=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

max_epochs = 30
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=1))

# ResNet-32 (CIFAR variant: 3 stages of 16/32/64 channels, mcl_mm.CIFARResNet on mmpretrain's
# ResNet) trained alone on CIFAR-100 at MCL's CIFAR recipe (the authors' main_cifar.py: SGD lr
# 0.1 with Nesterov momentum 0.9, weight decay 5e-4, batch 128 on one GPU, cosine schedule over
# 300 epochs, random crop with 4-pixel padding and flip, 2 images per class in each batch): the
# member of resnet32x2_300e_cifar100.py and its independent-training baseline. Paper: 70.91
# top-1. mmpretrain's ImageClassifier (backbone -> global average pooling -> LinearClsHead),
# data set, pipelines, Accuracy and runtime; seed 0.
# Data: the python version of CIFAR-100 (cifar-100-python.tar.gz, from
# https://www.cs.toronto.edu/~kriz/cifar.html), extracted so that data/cifar100/cifar-100-python/
# holds train, test and meta (mmpretrain's CIFAR100 checks their md5 sums).
_base_ = [
    '../_base_/datasets/cifar100_bs128.py', '../_base_/schedules/mcl-sgd_300e_cifar100.py',
    '../_base_/mcl_mm_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mcl_mm.CIFARResNet', depth=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

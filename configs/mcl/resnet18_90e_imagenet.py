# ResNet-18 trained alone on ImageNet-1k at MCL's recipe (the authors' main_imagenet.py: SGD lr
# 0.1 with Nesterov momentum 0.9, weight decay 1e-4, batch 256 = 8 GPUs x 32, 90 epochs, lr
# x0.1 at epochs 30 and 60), from scratch: the member of resnet18x2_90e_imagenet.py and its
# independent-training baseline. Paper: 69.76 top-1.
# mmpretrain's resnet18_8xb32_in1k.py (its ImageClassifier, ImageNet data at data/imagenet with
# meta/{train,val}.txt, pipelines, Accuracy top-1/top-5, runtime) with that recipe's optimizer
# and schedule (configs/_base_/schedules/mcl-sgd_90e_imagenet.py) instead of the stock 100
# epochs (steps at 30/60/90) without Nesterov; seed 0.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py', 'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/mcl-sgd_90e_imagenet.py', '../_base_/mcl_mm_runtime.py'
]

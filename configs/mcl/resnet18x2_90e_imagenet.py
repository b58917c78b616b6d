# MCL(x2) on ImageNet-1k: two ResNet-18 (resnet18_90e_imagenet.py, same recipe) trained online
# together with the four MCL terms in their memory form, as the authors' main_imagenet.py:
# tau 0.07, one momentum memory per member over the 1,281,167 training images (momentum 0.5),
# the own slot plus 1 same-class slot as positives, 8192 negatives, weights VCL 0.1, soft VCL 1,
# ICL 0.1, soft ICL 1. Paper: 69.76 -> 70.32 top-1 (each member). Validation scores both
# members (m0/accuracy/top1, m1/...). The exported member-0 backbone is what the transfer
# configs (faster-rcnn-r18_mcl-init_1x_coco.py, ...) load.
_base_ = [
    './_base_/mcl_cls.py', 'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/mcl-sgd_90e_imagenet.py'
]
member = dict(cfg_path='{{fileDirname}}/resnet18_90e_imagenet.py')
model = dict(
    members=[member, member],
    mcl_loss=dict(in_channels=[512, 512], tau=0.07,
                  memory=dict(num_samples=1281167, momentum=0.5, pos_k=1, neg_k=8192)))
val_evaluator = {{_base_.mcl_cls_evaluator}}
test_evaluator = {{_base_.mcl_cls_test_evaluator}}
default_hooks = dict(checkpoint=dict(save_best='m0/accuracy/top1', rule='greater'))

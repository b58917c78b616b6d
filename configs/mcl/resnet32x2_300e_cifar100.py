# MCL(x2) on CIFAR-100: two ResNet-32 (resnet32_300e_cifar100.py, same recipe) trained online
# together with the four MCL terms in their in-batch supervised form, as the authors'
# main_cifar.py: tau 0.1, positives are the batch's other images of the class (the class-
# balanced sampler puts 2 per class in each batch), weights VCL 0.1, soft VCL 1, ICL 0.1, soft
# ICL 1 (soft terms at T=3). Paper: 70.91 -> 72.96 top-1 (each member).
_base_ = [
    './_base_/mcl_cls.py', '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/mcl-sgd_300e_cifar100.py'
]
member = dict(cfg_path='{{fileDirname}}/resnet32_300e_cifar100.py')
model = dict(members=[member, member], mcl_loss=dict(in_channels=[64, 64]))
val_evaluator = {{_base_.mcl_cls_evaluator}}
test_evaluator = {{_base_.mcl_cls_test_evaluator}}
default_hooks = dict(checkpoint=dict(save_best='m0/accuracy/top1', rule='greater'))

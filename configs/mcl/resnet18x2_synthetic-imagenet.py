# A cohort of two ResNet-18 classifiers (configs/baselines/resnet18_synthetic-imagenet.py)
# trained with MCL on the synthetic ImageNet-format set, same data, schedule and runtime as that
# baseline, with the ImageNet recipe's memory form (tau 0.07, momentum 0.5, 1 same-class
# positive) scaled to the set: memories of 50 slots (one per image of the default synthetic set;
# set model.mcl_loss.memory.num_samples to another set's size), 32 negatives. The small-scale
# check of resnet18x2_90e_imagenet.py.
_base_ = [
    './_base_/mcl_cls.py', '../_base_/datasets/synthetic_imagenet.py',
    '../_base_/schedules/synthetic-cls_15e.py'
]
member = dict(cfg_path='{{fileDirname}}/../baselines/resnet18_synthetic-imagenet.py')
model = dict(
    members=[member, member],
    mcl_loss=dict(in_channels=[512, 512], tau=0.07,
                  memory=dict(num_samples=50, momentum=0.5, pos_k=1, neg_k=32)))
val_evaluator = {{_base_.mcl_cls_evaluator}}
test_evaluator = {{_base_.mcl_cls_test_evaluator}}
default_hooks = dict(checkpoint=dict(save_best='m0/accuracy/top1', rule='greater'))

# A cohort of two half-width DeepLabV3-R18 (configs/baselines/
# deeplabv3-r18-half_synthetic-cityscapes.py) trained with pixel-level MCL (./_base_/mcl_seg.py)
# on the synthetic Cityscapes-format set, with the data and schedule of that baseline: the
# small-scale check of the dense cohort (tests/test_mcl_cohort.py).
_base_ = [
    './_base_/mcl_seg.py', '../_base_/datasets/synthetic_cityscapes.py',
    '../_base_/schedules/synthetic-seg_300it.py'
]
member = dict(cfg_path='{{fileDirname}}/../baselines/deeplabv3-r18-half_synthetic-cityscapes.py')
model = dict(members=[member, member])
val_evaluator = {{_base_.mcl_seg_evaluator}}
test_evaluator = {{_base_.mcl_seg_test_evaluator}}
default_hooks = dict(checkpoint=dict(save_best='m0/mIoU', rule='greater'))

# A cohort of two DeepLabV3-R18 (configs/cirkd/deeplabv3-r18_40k_cityscapes.py: mmseg's model,
# ImageNet-initialised from open-mmlab://resnet18_v1c) trained online together with
# pixel-level MCL (./_base_/mcl_seg.py) on Cityscapes, at the CIRKD student recipe (SGD lr
# 0.02, poly 0.9, 40k iterations, batch 2 x 8 GPUs). Each member alone: 74.21 mIoU (CIRKD
# paper). Validation scores both members (m0/mIoU, m1/mIoU) and keeps the best checkpoint of
# member 0; tools/model_converters/cohort_member.py exports one member.
_base_ = [
    './_base_/mcl_seg.py', 'mmseg::_base_/datasets/cityscapes.py',
    '../_base_/schedules/sgd-poly_40k.py'
]
member = dict(cfg_path='{{fileDirname}}/../cirkd/deeplabv3-r18_40k_cityscapes.py')
model = dict(members=[member, member])
val_evaluator = {{_base_.mcl_seg_evaluator}}
test_evaluator = {{_base_.mcl_seg_test_evaluator}}
default_hooks = dict(checkpoint=dict(save_best='m0/mIoU', rule='greater'))

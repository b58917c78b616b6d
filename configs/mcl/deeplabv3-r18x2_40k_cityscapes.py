# A cohort of two DeepLabV3-R18 trained online together with pixel-level MCL on Cityscapes, at
# the student recipe of configs/cirkd/deeplabv3_r18_40k_cityscapes.py (SGD lr 0.02, poly 0.9,
# 40k iterations, batch 2 x 8 GPUs, ImageNet-initialised ResNet18-V1c from
# open-mmlab://resnet18_v1c). Each member alone: 74.21 mIoU
# (CIRKD paper). Validation scores both members (m0/mIoU, m1/mIoU) and keeps the best
# checkpoint of member 0; tools/model_converters/cohort_member.py exports one member.
_base_ = ['../cirkd/deeplabv3_r18_40k_cityscapes.py', './_base_/mcl_seg_pixel.py']
member = dict(cfg_path='{{fileDirname}}/../cirkd/deeplabv3_r18_40k_cityscapes.py')
model = dict(
    _delete_=True,
    type='mcl_mm.MCLCohort',
    members=[member, member],
    level='pixel',
    embeddings={{_base_.mcl_seg_embeddings}},
    logits={{_base_.mcl_seg_logits}},
    mcl_loss=dict(
        type='mcl_mm.MCLLoss', embed_dim=128, tau=0.1,
        kd_temperature=3.0, loss_weights={{_base_.mcl_seg_loss_weights}},
        pixel_sampling={{_base_.mcl_seg_pixel_sampling}}),
    mutual_kd={{_base_.mcl_seg_mutual_kd}},
    predict_member='all',
    data_preprocessor=None)  # each member its own (not the base's top-level one)
val_evaluator = dict(
    _delete_=True, type='mcl_mm.MemberMetric',
    metric=dict(type='IoUMetric', iou_metrics=['mIoU']))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='m0/mIoU', rule='greater'))

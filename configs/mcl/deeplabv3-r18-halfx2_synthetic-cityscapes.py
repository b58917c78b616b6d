# A cohort of two half-width DeepLabV3-R18 (configs/baselines/
# deeplabv3_r18-w32_synthetic-cityscapes.py) trained with pixel-level MCL on the synthetic
# Cityscapes-format set, same data, schedule and runtime as that baseline: the small-scale
# check of the dense cohort (tests/test_mcl_cohort.py).
_base_ = ['../baselines/deeplabv3_r18-w32_synthetic-cityscapes.py', './_base_/mcl_seg_pixel.py']
member = dict(cfg_path='{{fileDirname}}/../baselines/deeplabv3_r18-w32_synthetic-cityscapes.py')
model = dict(
    _delete_=True,
    type='mcl_mm.MCLCohort',
    members=[member, member],
    level='pixel',
    embeddings={{_base_.mcl_seg_embeddings}},
    logits={{_base_.mcl_seg_logits}},
    mcl_loss=dict(
        type='mcl_mm.MCLLoss', embed_dim=128, tau=0.1, kd_temperature=3.0,
        loss_weights={{_base_.mcl_seg_loss_weights}},
        pixel_sampling={{_base_.mcl_seg_pixel_sampling}}),
    mutual_kd={{_base_.mcl_seg_mutual_kd}},
    predict_member='all',
    data_preprocessor=None)  # each member its own (not the base's top-level one)
val_evaluator = dict(
    _delete_=True, type='mcl_mm.MemberMetric',
    metric=dict(type='IoUMetric', iou_metrics=['mIoU']))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='m0/mIoU', rule='greater'))

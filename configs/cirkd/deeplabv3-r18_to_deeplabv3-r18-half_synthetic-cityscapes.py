# CIRKD on the synthetic Cityscapes-format set: the DeepLabV3-R18 baseline
# (configs/baselines/deeplabv3_r18_synthetic-cityscapes.py) as teacher, its half-width
# twin as student, same data, schedule and runtime as the student's baseline. This is the
# quick-start demo (tools/demo.sh), which trains the teacher first and passes its checkpoint
# with --cfg-options model.teacher_ckpt=PATH.
# The losses are the paper's, at the Cityscapes weights (./_base_/cirkd_losses.py).
_base_ = [
    '../baselines/deeplabv3_r18-w32_synthetic-cityscapes.py', './_base_/cirkd_losses.py'
]

model = dict(
    _delete_=True,
    type='mcl_mm.SegDistiller',
    teacher=dict(cfg_path='{{fileDirname}}/../baselines/deeplabv3_r18_synthetic-cityscapes.py'),
    teacher_ckpt='work_dirs/demo/teacher/iter_300.pth',
    data_preprocessor=None,  # each model its own (not the base's top-level one)
    student={{_base_.model}},
    recorders={{_base_.cirkd_recorders}},
    distill_losses=dict(
        loss_kd={{_base_.cirkd_losses.loss_kd}},
        loss_cirkd_batch={{_base_.cirkd_losses.loss_cirkd_batch}},
        # the paper's memory loss (defaults) for these heads, with BN on one CPU process and
        # queues 10x smaller (the data set has 24 images)
        loss_cirkd_mem=dict(
            type='mcl_mm.CIRKDMemoryLoss', num_classes=19, norm_cfg=dict(type='BN'),
            pixel_memory_size=2000, region_memory_size=200,
            inputs=dict(feat_S='s_feat', feat_T='t_feat', gt_sem_seg='gt_sem_seg'))))

# CIRKD on the synthetic Cityscapes-format set: the DeepLabV3-R18 baseline
# (configs/baselines/deeplabv3-r18_synthetic-cityscapes.py) as teacher, its half-width twin
# (configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py) as student, with the data and
# schedule of those baselines. The quick-start demo (tools/demo.py) trains the teacher first
# and passes its checkpoint (model.teacher_ckpt=PATH).
# The model is ./_base_/cirkd.py (the paper's losses at the Cityscapes weights), with the
# memory loss on one CPU process (BN) and queues 10x smaller (the data set has 24 images).
_base_ = [
    './_base_/cirkd.py', '../_base_/datasets/synthetic_cityscapes.py',
    '../_base_/schedules/synthetic-seg_300it.py'
]
model = dict(
    teacher=dict(cfg_path='{{fileDirname}}/../baselines/deeplabv3-r18_synthetic-cityscapes.py'),
    teacher_ckpt='work_dirs/demo/teacher/iter_300.pth',
    student=dict(
        cfg_path='{{fileDirname}}/../baselines/deeplabv3-r18-half_synthetic-cityscapes.py'),
    distill_losses=dict(
        loss_cirkd_mem=dict(num_classes=19, norm_cfg=dict(type='BN'), pixel_memory_size=2000,
                            region_memory_size=200)))

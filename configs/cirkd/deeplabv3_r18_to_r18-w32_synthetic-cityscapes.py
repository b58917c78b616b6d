# CIRKD on the synthetic Cityscapes-format set: the DeepLabV3-R18 baseline
# (configs/baselines/deeplabv3_r18_synthetic-cityscapes.py) as teacher, its half-width
# twin as student, same data, schedule and runtime as the student's baseline. This is the
# quick-start demo (tools/demo.sh), which trains the teacher first and passes its checkpoint
# with --cfg-options model.teacher_ckpt=PATH.
# Differences from the paper recipe, for a 2-core CPU: the memory queues are 10x smaller
# (the data set has 24 images), and the loss weights are the paper's Cityscapes ones.
_base_ = ['../baselines/deeplabv3_r18-w32_synthetic-cityscapes.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)

num_classes = 19
model = dict(
    _delete_=True,
    type='mcl_mm.SegDistiller',
    teacher=dict(cfg_path='{{fileDirname}}/../baselines/deeplabv3_r18_synthetic-cityscapes.py'),
    teacher_ckpt='work_dirs/demo/teacher/iter_300.pth',
    student={{_base_.model}},
    recorders=dict(
        s_feat=dict(source='student', module='decode_head.conv_seg', io='input'),
        s_logits=dict(source='student', module='decode_head.conv_seg', io='output'),
        t_feat=dict(source='teacher', module='decode_head.conv_seg', io='input'),
        t_logits=dict(source='teacher', module='decode_head.conv_seg', io='output')),
    distill_losses=dict(
        loss_kd=dict(
            type='mcl_mm.PixelKDLoss', temperature=1.0, loss_weight=1.0,
            inputs=dict(preds_S='s_logits', preds_T='t_logits')),
        loss_cirkd_batch=dict(
            type='mcl_mm.CrossImagePixelLoss', temperature=0.1, loss_weight=1.0,
            inputs=dict(feat_S='s_feat', feat_T='t_feat')),
        loss_cirkd_mem=dict(
            type='mcl_mm.CIRKDMemoryLoss', num_classes=num_classes, student_channels=64,
            teacher_channels=128, pixel_memory_size=2000, region_memory_size=200,
            pixel_weight=0.1, region_weight=0.1,
            inputs=dict(feat_S='s_feat', feat_T='t_feat', gt_sem_seg='gt_sem_seg'))))

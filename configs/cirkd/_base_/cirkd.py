# The CIRKD model every CIRKD config starts from (Yang et al., CVPR 2022; the authors' code at
# tag segv0.1): an mcl_mm.SegDistiller with the recorders and the four losses at the Cityscapes
# weights (KD 1, mini-batch 1, memory 0.1 and 0.1). A config sets model.teacher,
# model.teacher_ckpt, model.student and the memory loss's num_classes; the channel counts are
# read from the recorded modules. Recorders: the input of decode_head.conv_seg (the
# post-dropout head feature) and its output (the logits) of teacher and student; other heads
# record other modules (README, "Bring your own model").
_base_ = ['../../_base_/mcl_mm_runtime.py']
model = dict(
    type='mcl_mm.SegDistiller',
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
            type='mcl_mm.CIRKDMemoryLoss', num_classes=None, pixel_memory_size=20000,
            region_memory_size=2000, pixel_contrast_size=4096, region_contrast_size=1024,
            contrast_temperature=0.1, norm_cfg=dict(type='SyncBN', requires_grad=True),
            pixel_weight=0.1, region_weight=0.1,
            inputs=dict(feat_S='s_feat', feat_T='t_feat', gt_sem_seg='gt_sem_seg'))),
    data_preprocessor=None)  # teacher and student each their own

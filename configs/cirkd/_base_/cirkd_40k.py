# CIRKD's recipe shared by the paper configs (Yang et al., CVPR 2022, reference tag segv0.1):
# the student's head feature and logits (input and output of decode_head.conv_seg) of teacher
# and student, the four losses at the Cityscapes weights, SGD lr 0.02, momentum 0.9, weight
# decay 1e-4, poly 0.9 over 40k iterations (mmseg's schedule_40k), batch 2 per GPU x 8.
# A config inheriting this sets model.teacher, model.teacher_ckpt, model.student, and the
# memory loss's num_classes / student_channels / teacher_channels.
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)

model = dict(
    type='mcl_mm.SegDistiller',
    recorders=dict(
        # input of conv_seg: the post-dropout head feature; output: the 1/8-resolution logits
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
            type='mcl_mm.CIRKDMemoryLoss', pixel_memory_size=20000, region_memory_size=2000,
            pixel_contrast_size=4096, region_contrast_size=1024, contrast_temperature=0.1,
            norm_cfg=dict(type='SyncBN', requires_grad=True), pixel_weight=0.1,
            region_weight=0.1,
            inputs=dict(feat_S='s_feat', feat_T='t_feat', gt_sem_seg='gt_sem_seg'))))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))

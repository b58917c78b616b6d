# CIRKD's training recipe shared by the paper configs: the losses of ./cirkd_losses.py, SGD lr
# 0.02, momentum 0.9, weight decay 1e-4, poly 0.9 over 40k iterations (mmseg's schedule_40k),
# batch 2 per GPU x 8. A config inheriting this sets model.teacher, model.teacher_ckpt,
# model.student and the memory loss's num_classes (the channels are read from
# the recorded modules).
_base_ = [
    './cirkd_losses.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py'
]
model = dict(
    type='mcl_mm.SegDistiller',
    recorders={{_base_.cirkd_recorders}},
    distill_losses={{_base_.cirkd_losses}},
    data_preprocessor=None)  # teacher and student each their own
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))

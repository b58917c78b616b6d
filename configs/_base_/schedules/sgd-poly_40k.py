# CIRKD's training recipe, shared by its paper configs and the MCL segmentation cohorts: SGD lr
# 0.02, momentum 0.9, weight decay 1e-4, poly 0.9 over 40k iterations (mmseg's schedule_40k),
# batch 2 per GPU x 8, checkpoint and validation every 4k iterations.
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py']
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
# the lr is for 16 images per step: tools/train.py --auto-scale-lr scales it to other totals
auto_scale_lr = dict(enable=False, base_batch_size=16)

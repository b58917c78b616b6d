# The schedule of the synthetic detection configs, sized for a 2-core CPU: mmdet's runtime and
# RetinaNet's SGD (lr 0.01, momentum 0.9, weight decay 1e-4, gradients clipped at 35) over 40
# epochs of the synthetic set (steps at 30 and 37, 20 warm-up iterations), one validation at
# the end, seed 0.
_base_ = ['mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py']
max_epochs = 40
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[30, 37],
         gamma=0.1)
]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)  # the synthetic sets' batch

# The schedule of the synthetic classification configs, sized for a 2-core CPU: mmpretrain's
# runtime and SGD with lr 0.05 and a cosine schedule over 15 epochs (batch 16), validation and
# checkpoints every 5 epochs, seed 0.
_base_ = ['mmpretrain::_base_/schedules/imagenet_bs256.py', 'mmpretrain::_base_/default_runtime.py']
max_epochs = 15
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=1))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=16)  # the synthetic set's batch

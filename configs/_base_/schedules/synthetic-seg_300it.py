# The schedule of the synthetic segmentation configs, sized for a 2-core CPU: mmseg's runtime
# and SGD (momentum 0.9, weight decay 5e-4) at lr 0.05, poly 0.9 over 300 iterations, one
# validation at the end, seed 0.
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py']
max_iters = 300
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters // 2, max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)  # the synthetic sets' batch

# MCL's ImageNet recipe (the authors' main_imagenet.py): SGD lr 0.1 with Nesterov momentum 0.9,
# weight decay 1e-4, batch 256 = 8 GPUs x 32, 90 epochs, lr x0.1 at epochs 30 and 60, on
# mmpretrain's ImageNet schedule and runtime; seed 0.
_base_ = ['mmpretrain::_base_/schedules/imagenet_bs256.py', 'mmpretrain::_base_/default_runtime.py']
max_epochs = 90
optim_wrapper = dict(optimizer=dict(lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
randomness = dict(seed=0)

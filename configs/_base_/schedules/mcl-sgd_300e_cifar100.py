# MCL's CIFAR-100 recipe (the authors' main_cifar.py): SGD lr 0.1 with Nesterov momentum 0.9,
# weight decay 5e-4, batch 128 on one GPU, cosine schedule over 300 epochs, on mmpretrain's
# runtime; seed 0.
_base_ = ['mmpretrain::_base_/default_runtime.py']
max_epochs = 300
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(max_keep_ckpts=3))
randomness = dict(seed=0)
# the lr is for 128 images per step: tools/train.py --auto-scale-lr scales it to other totals
auto_scale_lr = dict(enable=False, base_batch_size=128)

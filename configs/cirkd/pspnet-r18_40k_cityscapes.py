# Student-only baseline of CIRKD: mmseg's
# pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py trained alone at CIRKD's recipe
# (SGD lr 0.02, momentum 0.9, weight decay 1e-4, poly 0.9, 40k iterations, batch 2 x 8 GPUs). Paper: 72.55 mIoU.
# Student ImageNet initialisation: open-mmlab://resnet18_v1c
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18_v1c-b5776b93.pth)
_base_ = ['mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py']
model = dict(pretrained='open-mmlab://resnet18_v1c')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
auto_scale_lr = dict(enable=False, base_batch_size=16)  # lr for 2 x 8 GPUs

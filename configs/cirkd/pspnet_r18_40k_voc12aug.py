# Student-only baseline of CIRKD on Pascal VOC 2012 + aug: PSPNet-ResNet18 (mmseg's
# pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py at depth 18 with the R18 head widths)
# trained alone at CIRKD's recipe (SGD lr 0.02, momentum 0.9, weight decay 1e-4, poly 0.9, 40k
# iterations, batch 2 x 8 GPUs).
# ImageNet initialisation (no download at run time): download from
#   https://download.openmmlab.com/pretrain/third_party/resnet18_v1c-b5776b93.pth
#   to checkpoints/resnet18_v1c-b5776b93.pth
_base_ = ['mmseg::pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py']
model = dict(
    pretrained='checkpoints/resnet18_v1c-b5776b93.pth',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
train_dataloader = dict(batch_size=2)

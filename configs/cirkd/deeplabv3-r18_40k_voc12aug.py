# Student-only baseline of CIRKD on Pascal VOC 2012 + aug: DeepLabV3-ResNet18 (mmseg's
# deeplabv3/deeplabv3_r101-d8_4xb4-40k_voc12aug-512x512.py at depth 18 with the R18 head
# widths) trained alone at CIRKD's recipe (SGD lr 0.02, momentum 0.9, weight decay 1e-4,
# poly 0.9, 40k iterations, batch 2 x 8 GPUs). Paper: 73.21 mIoU.
# Student ImageNet initialisation: open-mmlab://resnet18_v1c
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18_v1c-b5776b93.pth)
_base_ = ['mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-40k_voc12aug-512x512.py']
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(enable=False, base_batch_size=16)  # lr for 2 x 8 GPUs

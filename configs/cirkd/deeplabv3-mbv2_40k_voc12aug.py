# Student-only baseline of CIRKD on Pascal VOC 2012 + aug: DeepLabV3-MobileNetV2 (mmseg's
# deeplabv3/deeplabv3_r101-d8_4xb4-40k_voc12aug-512x512.py with the MobileNetV2-D8 backbone of
# mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py) trained alone at
# CIRKD's recipe (SGD lr 0.02, momentum 0.9, weight decay 1e-4, poly 0.9, 40k iterations,
# batch 2 x 8 GPUs).
# ImageNet initialisation: mmcls://mobilenet_v2
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth)
_base_ = ['mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-40k_voc12aug-512x512.py', './_base_/mbv2_student.py']
model = dict(
    pretrained='mmcls://mobilenet_v2',
    backbone={{_base_.mbv2_backbone}},
    decode_head=dict(in_channels=320),
    auxiliary_head=dict(in_channels=96))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(enable=False, base_batch_size=16)  # lr for 2 x 8 GPUs

# Student-only baseline of CIRKD on CamVid: DeepLabV3-MobileNetV2 (mmseg's MobileNetV2-D8
# backbone) trained alone at CIRKD's recipe (./deeplabv3-r101_40k_camvid.py, 360x360 crops).
# ImageNet initialisation: mmcls://mobilenet_v2
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth)
_base_ = ['./deeplabv3-r101_40k_camvid.py', './_base_/mbv2_student.py']
model = dict(
    pretrained='mmcls://mobilenet_v2',
    backbone={{_base_.mbv2_backbone}},
    decode_head=dict(in_channels=320),
    auxiliary_head=dict(in_channels=96))

# Student-only baseline of CIRKD on CamVid: DeepLabV3-ResNet18 trained alone at CIRKD's recipe
# (./deeplabv3-r101_40k_camvid.py at depth 18 with the R18 head widths). Paper: 66.92 mIoU.
# ImageNet initialisation: open-mmlab://resnet18_v1c
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18_v1c-b5776b93.pth)
_base_ = ['./deeplabv3-r101_40k_camvid.py']
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))

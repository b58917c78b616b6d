# Mask R-CNN R18-FPN 1x on COCO from torchvision's ImageNet ResNet-18: the ImageNet-init twin of
# mask-rcnn-r18_mcl-init_1x_coco.py (mmdet's mask-rcnn_r50_fpn_1x_coco.py at depth 18,
# frozen_stages=1, norm_eval=True as stock).
# ImageNet initialisation: https://download.pytorch.org/models/resnet18-f37072fd.pth
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth)
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        depth=18, frozen_stages=1, norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='https://download.pytorch.org/models/resnet18-f37072fd.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))

# Mask R-CNN R18-FPN 1x on COCO from an MCL-pre-trained ResNet-18 (member 0 of
# resnet18x2_90e_imagenet.py, exported as in faster-rcnn-r18_mcl-init_1x_coco.py); everything
# else as the ImageNet-init twin mask-rcnn-r18_in1k-init_1x_coco.py.
_base_ = ['./mask-rcnn-r18_in1k-init_1x_coco.py']
model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='work_dirs/resnet18x2_90e_imagenet/member0_backbone.pth')))

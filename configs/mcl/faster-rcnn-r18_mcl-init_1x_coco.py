# Faster R-CNN R18-FPN 1x on COCO from an MCL-pre-trained ResNet-18: member 0 of
# resnet18x2_90e_imagenet.py, exported with
#   python tools/model_converters/cohort_member.py work_dirs/resnet18x2_90e_imagenet/epoch_90.pth \
#       work_dirs/resnet18x2_90e_imagenet/member0_backbone.pth --member 0 --backbone
# Everything else as the ImageNet-init twin faster-rcnn-r18_in1k-init_1x_coco.py.
_base_ = ['./faster-rcnn-r18_in1k-init_1x_coco.py']
model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='work_dirs/resnet18x2_90e_imagenet/member0_backbone.pth')))

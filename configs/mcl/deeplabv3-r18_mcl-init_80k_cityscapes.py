# DeepLabV3-R18 on Cityscapes from an MCL-pre-trained ResNet-18 (member 0 of
# resnet18x2_90e_imagenet.py, exported as in faster-rcnn-r18_mcl-init_1x_coco.py); everything
# else as the ImageNet-init twin deeplabv3-r18_in1k-init_80k_cityscapes.py.
_base_ = ['./deeplabv3-r18_in1k-init_80k_cityscapes.py']
model = dict(pretrained='work_dirs/resnet18x2_90e_imagenet/member0_backbone.pth')

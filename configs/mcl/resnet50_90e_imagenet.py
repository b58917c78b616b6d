# ResNet-50 trained alone on ImageNet-1k at MCL's recipe (resnet18_90e_imagenet.py): the member
# of resnet50x2_90e_imagenet.py and its independent-training baseline. The model is
# mmpretrain's resnet50_8xb32_in1k.py's (ResNet-50, LinearClsHead of 2048 inputs).
_base_ = ['./resnet18_90e_imagenet.py']
model = dict(backbone=dict(depth=50), head=dict(in_channels=2048))

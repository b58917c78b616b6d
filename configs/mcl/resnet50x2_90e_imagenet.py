# MCL(x2) on ImageNet-1k with two ResNet-50 (resnet50_90e_imagenet.py), otherwise as
# resnet18x2_90e_imagenet.py.
_base_ = ['./resnet18x2_90e_imagenet.py']
member = dict(cfg_path='{{fileDirname}}/resnet50_90e_imagenet.py')
model = dict(members=[member, member], mcl_loss=dict(in_channels=[2048, 2048]))

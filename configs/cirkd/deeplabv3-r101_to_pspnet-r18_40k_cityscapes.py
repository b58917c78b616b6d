# CIRKD: DeepLabV3-ResNet101 teacher -> PSPNet-ResNet18 student on Cityscapes, at the paper's
# recipe (./_base_/deeplabv3-r101-teacher_cityscapes.py: teacher checkpoint and data to put in place).
# Paper: student 72.55 alone -> 74.73 with CIRKD.
#   bash tools/dist_train.sh configs/cirkd/deeplabv3-r101_to_pspnet-r18_40k_cityscapes.py 8
# Student ImageNet initialisation: open-mmlab://resnet18_v1c
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18_v1c-b5776b93.pth)
_base_ = ['./_base_/deeplabv3-r101-teacher_cityscapes.py']
model = dict(
    student=dict(
        cfg_path='mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained='open-mmlab://resnet18_v1c'))

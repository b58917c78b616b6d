# CIRKD: DeepLabV3-ResNet101 teacher -> DeepLabV3-MobileNetV2 student on Cityscapes, at the paper's
# recipe (./_base_/deeplabv3-r101-teacher_cityscapes.py: teacher checkpoint and data to put in place).
# Paper: student 73.12 alone -> 75.42 with CIRKD.
#   bash tools/dist_train.sh configs/cirkd/deeplabv3-r101_to_deeplabv3-mbv2_40k_cityscapes.py 8
# Student ImageNet initialisation: mmcls://mobilenet_v2
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth)
_base_ = ['./_base_/deeplabv3-r101-teacher_cityscapes.py']
model = dict(
    student=dict(
        cfg_path='mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py',
        pretrained='mmcls://mobilenet_v2'))

# CIRKD: DeepLabV3-ResNet101 teacher -> DeepLabV3-MobileNetV2 student on Cityscapes, at the
# paper's recipe (./_base_/cirkd_40k.py). Paper: student 73.12 alone -> 75.42 with CIRKD.
# Files that must be in place (no download happens at run time):
# - teacher: as in deeplabv3_r101_to_r18_cityscapes.py, download from
#   https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth
#   to checkpoints/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth
# - student ImageNet initialisation (mmcls MobileNetV2): download from
#   https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth
#   to checkpoints/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth
_base_ = ['mmseg::_base_/datasets/cityscapes.py', './_base_/cirkd_40k.py']

model = dict(
    teacher=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained=None),
    teacher_ckpt='checkpoints/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth',
    student=dict(
        cfg_path='mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py',
        pretrained='checkpoints/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth'),
    distill_losses=dict(
        loss_cirkd_mem=dict(num_classes=19, student_channels=512, teacher_channels=512)))

# CIRKD: DeepLabV3-ResNet101 teacher -> PSPNet-ResNet18 student on Cityscapes, at the paper's
# recipe (./_base_/cirkd_40k.py). Paper: student 72.55 alone -> 74.73 with CIRKD.
# Files that must be in place (no download happens at run time):
# - teacher: as in deeplabv3_r101_to_r18_cityscapes.py, download from
#   https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth
#   to checkpoints/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth
# - student ImageNet initialisation: download from
#   https://download.openmmlab.com/pretrain/third_party/resnet18_v1c-b5776b93.pth
#   to checkpoints/resnet18_v1c-b5776b93.pth
_base_ = ['mmseg::_base_/datasets/cityscapes.py', './_base_/cirkd_40k.py']

model = dict(
    teacher=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained=None),
    teacher_ckpt='checkpoints/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth',
    student=dict(
        cfg_path='mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained='checkpoints/resnet18_v1c-b5776b93.pth'),
    distill_losses=dict(
        loss_cirkd_mem=dict(num_classes=19, student_channels=128, teacher_channels=512)))

# CIRKD: DeepLabV3-ResNet101 teacher -> DeepLabV3-ResNet18 student on CamVid, at the paper's
# recipe (./_base_/cirkd_40k.py) with 360x360 crops. Paper: student 66.92 alone -> 68.21.
#   bash tools/dist_train.sh configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_camvid.py 8
# Files:
# - teacher: trained first with configs/cirkd/deeplabv3-r101_40k_camvid.py (mmseg has no
#   CamVid model to download), which writes work_dirs/deeplabv3-r101_40k_camvid/iter_40000.pth
# - student ImageNet initialisation: open-mmlab://resnet18_v1c (./deeplabv3-r18_40k_camvid.py;
#   downloaded once into the torch hub cache)
# - CamVid in data/CamVid (see configs/_base_/datasets/camvid.py).
_base_ = ['../_base_/datasets/camvid.py', './_base_/cirkd_40k.py']
model = dict(
    teacher=dict(cfg_path='{{fileDirname}}/deeplabv3-r101_40k_camvid.py', pretrained=None),
    teacher_ckpt='work_dirs/deeplabv3-r101_40k_camvid/iter_40000.pth',
    student=dict(cfg_path='{{fileDirname}}/deeplabv3-r18_40k_camvid.py'),
    distill_losses=dict(
        loss_cirkd_mem=dict(num_classes=11)))

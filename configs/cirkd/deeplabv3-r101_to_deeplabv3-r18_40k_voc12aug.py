# CIRKD: DeepLabV3-ResNet101 teacher -> DeepLabV3-ResNet18 student on Pascal VOC 2012 + aug, at
# the paper's recipe (./_base_/cirkd_40k.py) with 512x512 crops, batch 2 per GPU x 8, and the
# memory losses at 0.01 (the paper's VOC weights). Paper: student 73.21 alone -> 74.50.
#   bash tools/dist_train.sh configs/cirkd/deeplabv3-r101_to_deeplabv3-r18_40k_voc12aug.py 8
# Files (addresses are downloaded once into the torch hub cache; offline, put each file at
# $TORCH_HOME/hub/checkpoints/<its file name>):
# - teacher: mmseg's model-zoo DeepLabV3-R101-D8 512x512 40k VOC aug (mIoU 77.92), model.teacher_ckpt
# - student ImageNet initialisation: open-mmlab://resnet18_v1c (./deeplabv3-r18_40k_voc12aug.py)
# - VOC 2012 + SBD aug in data/VOCdevkit/VOC2012 (mmseg's layout, SegmentationClassAug).
_base_ = ['mmseg::_base_/datasets/pascal_voc12_aug.py', './_base_/cirkd_40k.py']

model = dict(
    teacher=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-40k_voc12aug-512x512.py',
        pretrained=None),
    teacher_ckpt='https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x512_40k_voc12aug/deeplabv3_r101-d8_512x512_40k_voc12aug_20200613_161432-0017d784.pth',
    # mmseg has no DeepLabV3-R18 VOC config: the student of ./deeplabv3-r18_40k_voc12aug.py
    student=dict(cfg_path='{{fileDirname}}/deeplabv3-r18_40k_voc12aug.py'),
    distill_losses=dict(
        loss_cirkd_mem=dict(num_classes=21, pixel_weight=0.01, region_weight=0.01)))
train_dataloader = dict(batch_size=2)

# CIRKD on Cityscapes from mmseg's model-zoo DeepLabV3-R101-D8 512x1024 80k (mIoU 80.20), at
# the paper's recipe (./cirkd_40k.py), 512x1024 crops, single-scale whole-image evaluation.
# model.teacher_ckpt is the model-zoo address: downloaded once into the torch hub cache (offline,
# put the file at $TORCH_HOME/hub/checkpoints/
# deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth).
# Cityscapes in data/cityscapes (mmseg's layout, with *_gtFine_labelTrainIds.png).
_base_ = ['mmseg::_base_/datasets/cityscapes.py', './cirkd_40k.py']
model = dict(
    teacher=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained=None),
    teacher_ckpt='https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth',
    distill_losses=dict(loss_cirkd_mem=dict(num_classes=19)))

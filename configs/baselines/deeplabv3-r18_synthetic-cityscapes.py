# DeepLabV3 with a ResNet-18 (V1c, dilated, output stride 8) backbone, the mmseg model of
# `mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py`, trained from scratch on
# the synthetic Cityscapes-format set in a few hundred CPU iterations.
# Differences from the stock config, all for a 2-core CPU: BN instead of SyncBN, no ImageNet
# initialisation (the stock config downloads open-mmlab://resnet18_v1c; to use it, put the
# file somewhere local and set model.pretrained to its path), 64x128 crops, a short schedule.
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py', '../_base_/datasets/synthetic_cityscapes.py',
    '../_base_/schedules/synthetic-seg_300it.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (64, 128)
# top level too, as the stock configs do: the Runner hands it to a model dict that has none
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=512, channels=128, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=256, channels=64, norm_cfg=norm_cfg))

# Student-only baseline of CIRKD on Pascal VOC 2012 + aug: PSPNet-ResNet18 (mmseg's PSPHead, as
# in pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py, on the ResNet18-D8 of
# ./deeplabv3-r18_40k_voc12aug.py, whose data, recipe and ImageNet initialisation it keeps:
# open-mmlab://resnet18_v1c).
_base_ = ['./deeplabv3-r18_40k_voc12aug.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead', in_channels=512, in_index=3, channels=128, pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1, num_classes=21, norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))

# The DeepLabV3-MobileNetV2 student's backbone (mmseg's MobileNetV2-D8, as in
# mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py), as a variable
# for the baselines that swap it into a ResNet DeepLabV3 config:
# model = dict(backbone={{_base_.mbv2_backbone}}, decode_head=dict(in_channels=320),
#              auxiliary_head=dict(in_channels=96))
mbv2_backbone = dict(
    _delete_=True,
    type='MobileNetV2',
    widen_factor=1.,
    strides=(1, 2, 2, 1, 1, 1, 1),
    dilations=(1, 1, 1, 2, 2, 4, 4),
    out_indices=(1, 2, 4, 6),
    norm_cfg=dict(type='SyncBN', requires_grad=True))

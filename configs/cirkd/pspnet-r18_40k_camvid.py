# Student-only baseline of CIRKD on CamVid: PSPNet-ResNet18 (mmseg's PSPHead on the ResNet18-D8
# of ./deeplabv3-r18_40k_camvid.py) trained alone at CIRKD's recipe (360x360 crops).
# ImageNet initialisation: open-mmlab://resnet18_v1c
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18_v1c-b5776b93.pth)
_base_ = ['./deeplabv3-r18_40k_camvid.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead', in_channels=512, in_index=3, channels=128, pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1, num_classes=11, norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))

# A half-width DeepLabV3-ResNet18 (32 stem/base channels instead of 64): the small student of
# the synthetic CIRKD demo (configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py),
# trained alone, as its baseline.
_base_ = ['./deeplabv3-r18_synthetic-cityscapes.py']
model = dict(
    backbone=dict(stem_channels=32, base_channels=32),
    decode_head=dict(in_channels=256, channels=64),
    auxiliary_head=dict(in_channels=128, channels=32))

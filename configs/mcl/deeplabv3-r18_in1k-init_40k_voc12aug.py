# DeepLabV3-R18 (torchvision-style ResNet-18 with dilations) on Pascal VOC 2012 + aug, mmseg's
# deeplabv3_r50-d8_4xb4-40k_voc12aug-512x512.py at depth 18 with the R18 head widths, from
# torchvision's ImageNet weights: the twin of deeplabv3-r18_mcl-init_40k_voc12aug.py.
# ImageNet initialisation: https://download.pytorch.org/models/resnet18-f37072fd.pth
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth)
_base_ = ['mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-40k_voc12aug-512x512.py']
model = dict(
    pretrained='https://download.pytorch.org/models/resnet18-f37072fd.pth',
    backbone=dict(type='ResNet', depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
auto_scale_lr = dict(enable=False, base_batch_size=16)  # lr for 4 GPUs x 4

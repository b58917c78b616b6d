# DeepLabV3-R18 (torchvision-style ResNet-18 with dilations, mmseg's
# deeplabv3_r18b-d8_4xb2-80k_cityscapes-512x1024.py) on Cityscapes from torchvision's ImageNet
# weights: the ImageNet-init twin of deeplabv3-r18_mcl-init_80k_cityscapes.py.
# ImageNet initialisation: https://download.pytorch.org/models/resnet18-f37072fd.pth
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth)
_base_ = ['mmseg::deeplabv3/deeplabv3_r18b-d8_4xb2-80k_cityscapes-512x1024.py']
model = dict(pretrained='https://download.pytorch.org/models/resnet18-f37072fd.pth')
auto_scale_lr = dict(enable=False, base_batch_size=8)  # lr for 4 GPUs x 2

# A heterogeneous cohort: DeepLabV3-R18 and DeepLabV3-MobileNetV2 trained online together with
# pixel-level MCL on Cityscapes, each at its student recipe (configs/cirkd/
# deeplabv3-r18_40k_cityscapes.py and deeplabv3-mbv2_40k_cityscapes.py, whose headers say
# where their ImageNet checkpoints come from). Alone: 74.21 and 73.12 mIoU (CIRKD paper).
_base_ = ['./deeplabv3-r18x2_40k_cityscapes.py']
model = dict(
    members=[
        dict(cfg_path='{{fileDirname}}/../cirkd/deeplabv3-r18_40k_cityscapes.py'),
        dict(cfg_path='{{fileDirname}}/../cirkd/deeplabv3-mbv2_40k_cityscapes.py')
    ])

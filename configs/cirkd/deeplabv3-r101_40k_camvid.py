# The CamVid teacher for CIRKD: DeepLabV3-ResNet101 (mmseg's model) trained on CamVid at
# CIRKD's recipe (360x360 crops, SGD lr 0.02, momentum 0.9, weight decay 1e-4, poly 0.9, 40k
# iterations, batch 2 x 8 GPUs). mmseg's model zoo has no CamVid model, so train this first:
#   bash tools/dist_train.sh configs/cirkd/deeplabv3-r101_40k_camvid.py 8
# deeplabv3-r101_to_deeplabv3-r18_40k_camvid.py then reads work_dirs/deeplabv3-r101_40k_camvid/iter_40000.pth.
# ImageNet initialisation: open-mmlab://resnet101_v1c
# (downloaded once into the torch hub cache; offline, put it at
#  $TORCH_HOME/hub/checkpoints/resnet101_v1c-e67eebb6.pth)
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py', '../_base_/datasets/camvid.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py'
]
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
data_preprocessor = dict(size=(360, 360))
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet101_v1c',
    backbone=dict(depth=101),
    decode_head=dict(num_classes=11),
    auxiliary_head=dict(num_classes=11))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
auto_scale_lr = dict(enable=False, base_batch_size=16)  # lr for 2 x 8 GPUs

# CIRKD (CVPR 2022): DeepLabV3-ResNet101 teacher -> DeepLabV3-ResNet18 student on Cityscapes,
# the paper's recipe: SGD lr 0.02, momentum 0.9, weight decay 1e-4, poly 0.9, 40k iterations,
# batch 16 (8 GPUs x 2), 512x1024 crops, single-scale whole-image evaluation; losses: logit
# KD 1, mini-batch pixel-to-pixel 1, memory pixel-to-pixel 0.1, memory pixel-to-region 0.1.
#   bash tools/dist_train.sh configs/cirkd/deeplabv3_r101_to_r18_cityscapes.py 8
# Files that must be in place (no download happens at run time):
# - teacher: mmseg's model-zoo DeepLabV3-R101-D8 512x1024 80k (mIoU 80.20), from
#   https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth
#   saved as checkpoints/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth
# - student ImageNet initialisation: https://download.openmmlab.com/pretrain/third_party/resnet18_v1c-b5776b93.pth
#   saved as checkpoints/resnet18_v1c-b5776b93.pth
# - Cityscapes in data/cityscapes (mmseg's layout, with *_gtFine_labelTrainIds.png).
_base_ = [
    'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
]
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)

num_classes = 19
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='mcl_mm.SegDistiller',
    teacher=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained=None),
    teacher_ckpt='checkpoints/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth',
    student=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained='checkpoints/resnet18_v1c-b5776b93.pth'),
    recorders=dict(
        # input of conv_seg: the post-dropout head feature; output: the 1/8-resolution logits
        s_feat=dict(source='student', module='decode_head.conv_seg', io='input'),
        s_logits=dict(source='student', module='decode_head.conv_seg', io='output'),
        t_feat=dict(source='teacher', module='decode_head.conv_seg', io='input'),
        t_logits=dict(source='teacher', module='decode_head.conv_seg', io='output')),
    distill_losses=dict(
        loss_kd=dict(
            type='mcl_mm.PixelKDLoss', temperature=1.0, loss_weight=1.0,
            inputs=dict(preds_S='s_logits', preds_T='t_logits')),
        loss_cirkd_batch=dict(
            type='mcl_mm.CrossImagePixelLoss', temperature=0.1, loss_weight=1.0,
            inputs=dict(feat_S='s_feat', feat_T='t_feat')),
        loss_cirkd_mem=dict(
            type='mcl_mm.CIRKDMemoryLoss', num_classes=num_classes, student_channels=128,
            teacher_channels=512, pixel_memory_size=20000, region_memory_size=2000,
            pixel_contrast_size=4096, region_contrast_size=1024, contrast_temperature=0.1,
            norm_cfg=norm_cfg, pixel_weight=0.1, region_weight=0.1,
            inputs=dict(feat_S='s_feat', feat_T='t_feat', gt_sem_seg='gt_sem_seg'))))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))

# As td-hm-res18_hsjp-init_synthetic-coco.py, and the head's three deconvolution layers are
# also taken from the HSJP pretext (export with --with-deconv); only the final 1x1 layer (17
# keypoints in place of the pretext's K cells) starts from the stock initialisation.
#   python tools/model_converters/pose_backbone.py --with-deconv \
#       work_dirs/hsjp-2x2-res18_synthetic-coco/epoch_60.pth \
#       work_dirs/hsjp-2x2-res18_synthetic-coco/backbone_deconv.pth
_base_ = ['./td-hm-res18_hsjp-init_synthetic-coco.py']

hsjp_backbone = 'work_dirs/hsjp-2x2-res18_synthetic-coco/backbone_deconv.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=hsjp_backbone)),
    head=dict(init_cfg=[
        dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'], std=0.001),
        dict(type='Constant', layer='BatchNorm2d', val=1),
        dict(type='Pretrained', checkpoint=hsjp_backbone, prefix='head.'),
    ]))

# As td-hm-res50_hsjp-init_8xb64-210e_coco-256x192.py, and the head's three deconvolution layers
# are also taken from the HSJP pretext; only the final 1x1 layer (17 keypoints in place of the
# pretext's 12 cells) starts from the stock initialisation. Export with --with-deconv:
#   python tools/model_converters/pose_backbone.py --with-deconv \
#       work_dirs/hsjp-4x3-res50_8xb64-210e_coco-person-256x192/epoch_210.pth \
#       work_dirs/hsjp-4x3-res50_8xb64-210e_coco-person-256x192/backbone_deconv.pth
_base_ = ['./td-hm-res50_hsjp-init_8xb64-210e_coco-256x192.py']

hsjp_backbone = 'work_dirs/hsjp-4x3-res50_8xb64-210e_coco-person-256x192/backbone_deconv.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=hsjp_backbone)),
    head=dict(init_cfg=[
        dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'], std=0.001),
        dict(type='Constant', layer='BatchNorm2d', val=1),
        dict(type='Pretrained', checkpoint=hsjp_backbone, prefix='head.'),
    ]))

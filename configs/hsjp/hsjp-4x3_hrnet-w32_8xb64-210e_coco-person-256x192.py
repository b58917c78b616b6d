# HSJP pretext for HRNet-W32: hsjp-4x3_res50_8xb64-210e_coco-person-256x192.py (4x3 grid of 64x64
# cells on 256x192 crops, K = 12) with the model of the stock
# `mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py`:
# its HRNet-W32 (copied below) from scratch (no ImageNet init_cfg) and a HeatmapHead without
# deconvolutions (in_channels=32). Fine-tune: td-hm_hrnet-w32_hsjp-init_8xb64-210e_coco-256x192.py.
_base_ = ['./hsjp-4x3_res50_8xb64-210e_coco-person-256x192.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                        num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
                        num_channels=(32, 64)),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                        num_channels=(32, 64, 128)),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                        num_channels=(32, 64, 128, 256))),
        init_cfg=None),
    head=dict(in_channels=32, deconv_out_channels=None))

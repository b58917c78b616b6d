# HSJP pretext for HRNet-W32: hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py (4x3 grid of 64x64
# cells on 256x192 crops, K = 12) with the model of the stock
# `mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py`:
# its HRNet-W32 from scratch (the base's backbone.init_cfg=None) and its HeatmapHead without
# deconvolutions. Fine-tune: td-hm-hrnet-w32_hsjp-init_8xb64-210e_coco-256x192.py.
_base_ = ['./hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py']

model = dict(
    cfg_path='mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')

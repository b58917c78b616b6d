# From-scratch twin of td-hm-res50_hsjp-init_8xb64-210e_coco-256x192.py: the stock recipe
# (`mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py`: 210 epochs, COCO val2017 with detected person
# boxes and flip test) with the backbone randomly initialised instead of ImageNet-initialised.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(init_cfg=None))

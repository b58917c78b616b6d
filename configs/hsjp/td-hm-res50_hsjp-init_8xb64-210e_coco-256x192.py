# SimpleBaseline-R50 fine-tuned from an HSJP-pretrained backbone: the stock recipe
# (`mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py`: 210 epochs, COCO val2017 with detected person
# boxes and flip test) with the ResNet-50 initialised from the pretext of
# hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py instead of ImageNet. Export it first:
#   python tools/model_converters/pose_backbone.py \
#       work_dirs/hsjp-4x3-res50_8xb64-210e_coco-person-256x192/epoch_210.pth \
#       work_dirs/hsjp-4x3-res50_8xb64-210e_coco-person-256x192/backbone.pth
# (the file keeps the `backbone.` key prefix, which init_cfg's prefix strips).
# From-scratch twin: td-hm-res50_scratch_8xb64-210e_coco-256x192.py.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']

hsjp_backbone = 'work_dirs/hsjp-4x3-res50_8xb64-210e_coco-person-256x192/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=hsjp_backbone, prefix='backbone.')))

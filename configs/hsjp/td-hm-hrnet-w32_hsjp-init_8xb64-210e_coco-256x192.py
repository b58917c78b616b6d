# HRNet-W32 fine-tuned from an HSJP-pretrained backbone: the stock recipe
# (`mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py`: 210 epochs, COCO val2017 with detected
# person boxes and flip test) with the HRNet-W32 initialised from the pretext of
# hsjp-4x3-hrnet-w32_8xb64-210e_coco-person-256x192.py instead of ImageNet. Export it first:
#   python tools/model_converters/pose_backbone.py \
#       work_dirs/hsjp-4x3-hrnet-w32_8xb64-210e_coco-person-256x192/epoch_210.pth \
#       work_dirs/hsjp-4x3-hrnet-w32_8xb64-210e_coco-person-256x192/backbone.pth
# From-scratch twin: td-hm-hrnet-w32_scratch_8xb64-210e_coco-256x192.py.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py']

hsjp_backbone = 'work_dirs/hsjp-4x3-hrnet-w32_8xb64-210e_coco-person-256x192/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=hsjp_backbone, prefix='backbone.')))

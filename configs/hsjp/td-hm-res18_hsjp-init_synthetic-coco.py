# Fine-tune on the synthetic COCO-keypoints set from an HSJP-pretrained backbone: exactly
# configs/baselines/td-hm-res18_synthetic-coco.py (its from-scratch twin) with the ResNet-18
# initialised from the backbone of hsjp-2x2-res18_synthetic-coco.py, exported by
#   python tools/model_converters/pose_backbone.py \
#       work_dirs/hsjp-2x2-res18_synthetic-coco/epoch_60.pth \
#       work_dirs/hsjp-2x2-res18_synthetic-coco/backbone.pth
# (the file keeps the `backbone.` key prefix, which init_cfg's prefix strips).
_base_ = ['../baselines/td-hm-res18_synthetic-coco.py']
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)

hsjp_backbone = 'work_dirs/hsjp-2x2-res18_synthetic-coco/backbone.pth'
model = dict(
    backbone=dict(init_cfg=dict(
        _delete_=True, type='Pretrained', checkpoint=hsjp_backbone, prefix='backbone.')))

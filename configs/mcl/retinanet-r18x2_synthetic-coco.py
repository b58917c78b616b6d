# A cohort of two RetinaNet R18-FPN (configs/baselines/retinanet_r18_fpn_synthetic-coco.py)
# trained with label-free image-level MCL on the synthetic COCO detection set, same data,
# schedule and runtime as that baseline: the small-scale check of the detector cohort
# (faster-rcnn_r18-fpnx2_1x_coco.py is the full-scale one; see its header for the terms).
_base_ = ['../baselines/retinanet_r18_fpn_synthetic-coco.py', '../_base_/mcl_mm_runtime.py']
member = dict(cfg_path='{{fileDirname}}/../baselines/retinanet_r18_fpn_synthetic-coco.py')
model = dict(
    _delete_=True,
    type='mcl_mm.MCLCohort',
    members=[member, member],
    level='image',
    embeddings=dict(module='backbone', index=-1),
    mcl_loss=dict(
        type='mcl_mm.MCLLoss', in_channels=[512, 512], embed_dim=128, tau=0.1,
        kd_temperature=3.0, loss_weights=dict(vcl=0.1, soft_vcl=1.0, icl=0.1, soft_icl=1.0)),
    predict_member='all')
val_evaluator = dict(
    _delete_=True, type='mcl_mm.MemberMetric',
    metric=dict(
        type='CocoMetric',
        ann_file='data/synthetic/coco_det/annotations/instances_val2017.json',
        metric='bbox', format_only=False))
test_evaluator = val_evaluator

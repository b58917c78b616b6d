# A cohort of two Faster R-CNN R18-FPN (faster-rcnn_r18-in1k_fpn_1x_coco.py, whose header says
# where its ImageNet checkpoint comes from) trained online together with image-level MCL on
# COCO, 1x schedule. Detection images have no single label, so MCL is label-free here: the
# embedding of an image (its pooled last backbone stage) has the same image in the other
# member as its positive and the batch's other images as negatives (VCL terms are zero).
# Validation scores both members (m0/coco/bbox_mAP, m1/coco/bbox_mAP).
_base_ = ['./faster-rcnn_r18-in1k_fpn_1x_coco.py', '../_base_/mcl_mm_runtime.py']
member = dict(cfg_path='{{fileDirname}}/faster-rcnn_r18-in1k_fpn_1x_coco.py')
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
        type='CocoMetric', ann_file='data/coco/annotations/instances_val2017.json',
        metric='bbox', format_only=False, backend_args=None))
test_evaluator = val_evaluator

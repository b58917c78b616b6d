# A cohort of two Faster R-CNN R18-FPN (faster-rcnn-r18_in1k-init_1x_coco.py, whose header says
# where its ImageNet checkpoint comes from) trained online together with image-level MCL on
# COCO, 1x schedule. Detection images have no single label, so MCL is label-free here: the
# embedding of an image (its pooled last backbone stage) has the same image in the other
# member as its positive and the batch's other images as negatives (VCL terms are zero).
# Validation scores both members (m0/coco/bbox_mAP, m1/coco/bbox_mAP).
_base_ = [
    './_base_/mcl.py', 'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py'
]
member = dict(cfg_path='{{fileDirname}}/faster-rcnn-r18_in1k-init_1x_coco.py')
model = dict(members=[member, member], mcl_loss=dict(in_channels=[512, 512]))
val_evaluator = dict(_delete_=True, type='mcl_mm.MemberMetric', metric={{_base_.val_evaluator}})
test_evaluator = dict(_delete_=True, type='mcl_mm.MemberMetric', metric={{_base_.test_evaluator}})

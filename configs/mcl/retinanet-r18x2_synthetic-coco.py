# A cohort of two RetinaNet R18-FPN (configs/baselines/retinanet-r18_synthetic-coco.py) trained
# with label-free image-level MCL (./_base_/mcl.py) on the synthetic COCO detection set, with
# the data and schedule of that baseline: the small-scale check of the detector cohort
# (faster-rcnn-r18x2_1x_coco.py is the full-scale one; see its header for the terms).
_base_ = [
    './_base_/mcl.py', '../_base_/datasets/synthetic_coco-det.py',
    '../_base_/schedules/synthetic-det_40e.py'
]
member = dict(cfg_path='{{fileDirname}}/../baselines/retinanet-r18_synthetic-coco.py')
model = dict(members=[member, member], mcl_loss=dict(in_channels=[512, 512]))
val_evaluator = dict(_delete_=True, type='mcl_mm.MemberMetric', metric={{_base_.val_evaluator}})
test_evaluator = dict(_delete_=True, type='mcl_mm.MemberMetric', metric={{_base_.test_evaluator}})

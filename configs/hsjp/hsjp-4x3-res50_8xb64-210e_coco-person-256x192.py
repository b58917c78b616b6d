# HSJP pretext (arXiv 2012.07101): a SimpleBaseline-R50 learns, from scratch, to solve 4x3 jigsaw
# puzzles of COCO train2017 person crops. Each 256x192 crop is cut into 12 cells of 64x64, the
# cells are shuffled (a new permutation per sample and epoch, from the seeded numpy generator)
# and the model predicts for every original cell a heatmap peaking at the slot where it now
# lies: a stock top-down heatmap pose estimator with 12 pseudo-keypoints.
# Recipe: the stock `td-hm_res50_8xb64-210e_coco-256x192.py` (Adam 5e-4, 500-iteration linear
# warm-up, 210 epochs with steps at 170/200, batch 64 x 8 GPUs, MSRAHeatmap 48x64 sigma=2,
# KeypointMSELoss), with these changes:
# - no ImageNet initialisation (the point of the method): backbone.init_cfg=None;
# - data: every non-crowd person box of person_keypoints_train2017.json, with or without
#   keypoints (mcl_mm.CocoPersonJigsawDataset); val: the val2017 person boxes with puzzles fixed
#   per box (JigsawShuffle(seed=0));
# - pipeline: flip and box jitter as the stock recipe (no half-body, which needs keypoints),
#   then mcl_mm.JigsawShuffle between TopdownAffine and GenerateTarget;
# - head: out_channels=12; no flip test; score: mcl_mm.PuzzleAccuracy (best checkpoint by
#   puzzle/cell_accuracy).
# Then export the backbone (tools/model_converters/pose_backbone.py) and fine-tune with
# td-hm-res50_hsjp-init_8xb64-210e_coco-256x192.py; see configs/hsjp/README.md.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
    '../_base_/mcl_mm_runtime.py'
]

grid = (4, 3)  # (rows, cols); K = 12 pseudo-keypoints
codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
# the stock model of any mmpose top-down heatmap config (a user swaps the architecture by
# changing cfg_path alone), with K pseudo-keypoints, from scratch, without flip test
model = dict(
    _delete_=True,
    type='mcl_mm.StockModel',
    cfg_path='mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
    backbone=dict(init_cfg=None),
    head=dict(out_channels=grid[0] * grid[1], decoder=codec),
    test_cfg=dict(flip_test=False))

# the stock PackPoseInputs meta keys plus the puzzle (for mcl_mm.PuzzleAccuracy)
meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape', 'img_shape',
             'input_size', 'input_center', 'input_scale', 'flip', 'flip_direction',
             'flip_indices', 'raw_ann_info', 'dataset_name', 'jigsaw_grid', 'jigsaw_perm')
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle'),  # the data set's grid
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys)
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle', seed=0),
    dict(type='PackPoseInputs', meta_keys=meta_keys)
]
dataset_type = 'mcl_mm.CocoPersonJigsawDataset'
train_dataloader = dict(dataset=dict(type=dataset_type, grid=grid, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, grid=grid, bbox_file=None, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='mcl_mm.PuzzleAccuracy')
test_evaluator = dict(_delete_=True, type='mcl_mm.PuzzleAccuracy')
default_hooks = dict(checkpoint=dict(save_best='puzzle/cell_accuracy', rule='greater'))

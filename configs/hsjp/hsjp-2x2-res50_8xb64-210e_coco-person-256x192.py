# HSJP pretext with a 2x2 grid (K = 4, 128x96 cells): only the grid differs from
# hsjp-4x3_res50_8xb64-210e_coco-person-256x192.py.
_base_ = ['./hsjp-4x3_res50_8xb64-210e_coco-person-256x192.py']

grid = (2, 2)
codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(head=dict(out_channels=grid[0] * grid[1]))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle', grid=grid),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle', grid=grid, seed=0),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(dataset=dict(grid=grid, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(grid=grid, pipeline=val_pipeline))
test_dataloader = val_dataloader

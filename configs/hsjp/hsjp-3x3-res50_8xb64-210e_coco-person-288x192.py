# HSJP pretext with a 3x3 grid (K = 9): hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py on
# 288x192 crops (96x64 cells, 72x48 heatmaps): 256 is not a multiple of 3, and the crop height
# must also be a multiple of 32 for the ResNet + 3-deconv head to give heatmaps of a quarter of
# the crop (264 would give 72 rows against a 66-row target). The backbone transfers to the
# 256x192 fine-tune configs unchanged (ResNet takes any input size).
_base_ = ['./hsjp-4x3-res50_8xb64-210e_coco-person-256x192.py']

grid = (3, 3)
codec = dict(type='MSRAHeatmap', input_size=(192, 288), heatmap_size=(48, 72), sigma=2)
model = dict(head=dict(out_channels=grid[0] * grid[1], decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mcl_mm.JigsawShuffle', seed=0),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(dataset=dict(grid=grid, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(grid=grid, pipeline=val_pipeline))
test_dataloader = val_dataloader

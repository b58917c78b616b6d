# The synthetic COCO detection set of `tools/misc/make_synthetic_data.py coco_det` (160x128
# images of five COCO categories with their real ids, boxes and polygon masks), read by the
# stock CocoDataset and scored by CocoMetric.
# Make it with:  python tools/misc/make_synthetic_data.py coco_det data/synthetic/coco_det
_base_ = ['mmdet::_base_/datasets/coco_detection.py']

data_root = 'data/synthetic/coco_det/'
classes = ('person', 'bicycle', 'car', 'motorcycle', 'airplane')
metainfo = dict(classes=classes)
scale = (160, 128)  # (w, h): the synthetic images' own size
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
# tiny images: loading in the main process is faster than starting workers
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

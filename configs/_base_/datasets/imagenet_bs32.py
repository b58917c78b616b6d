# ImageNet-1k (ILSVRC-2012) for mcl_mm.ImageClassifier, mmpretrain's layout and pipelines:
# data/imagenet/{train,val}/<wnid>/*.JPEG with meta/{train,val}.txt ('<wnid>/<file> <label>';
# val images sorted into class folders), RandomResizedCrop 224 + flip for training, short edge
# 256 then centre crop 224 for testing; 32 images per GPU.
dataset_type = 'mcl_mm.ImageNetDataset'
data_root = 'data/imagenet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mcl_mm.RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mcl_mm.PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mcl_mm.ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='mcl_mm.PackClsInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/train.txt',
                 data_prefix=dict(img_path='train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/val.txt',
                 data_prefix=dict(img_path='val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mcl_mm.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator

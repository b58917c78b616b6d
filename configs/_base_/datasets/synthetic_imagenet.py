# The synthetic ImageNet-format set of `tools/misc/make_synthetic_data.py imagenet` (64x64
# images of the first 10 ILSVRC classes, labels 0..9 as in the real meta/*.txt), read by
# mmpretrain's ImageNet, with the stock pipelines scaled to the images: RandomResizedCrop 56;
# test: short edge 64 then centre crop 56 (as 224/256).
# Make it with:  python tools/misc/make_synthetic_data.py imagenet data/synthetic/imagenet
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs32.py']
data_preprocessor = dict(num_classes=10)
data_root = 'data/synthetic/imagenet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=56),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=64, edge='short'),
    dict(type='CenterCrop', crop_size=56),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=2, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=2, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

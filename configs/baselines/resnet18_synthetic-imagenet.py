# ResNet-18 image classifier: mmpretrain's `resnet/resnet18_8xb32_in1k.py` (ImageClassifier:
# ResNet-18 -> global average pooling -> LinearClsHead, cross entropy; its ImageNet data
# pipelines, schedule and runtime), trained from scratch on the synthetic ImageNet-format set
# (`python tools/misc/make_synthetic_data.py imagenet data/synthetic/imagenet`: 64x64 images
# of the first 10 ILSVRC classes, labels 0..9 as in the real meta/*.txt, read by mmpretrain's
# `ImageNet`). mmpretrain's `ResNet` has the state-dict keys of torchvision's and mmdet's /
# mmseg's `ResNet`, so the classifier's `backbone.*` weights load into them strictly
# (`init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)`).
# Differences from the stock recipe, for a 2-core CPU: 10 classes, images 4x smaller
# (RandomResizedCrop 56, test: short edge 64 then centre crop 56, as 224/256), batch 16
# with lr 0.05 and a cosine schedule of 15 epochs instead of batch 256 with lr 0.1 and 100
# epochs with steps at 30/60/90; seed 0.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py', '../_base_/datasets/synthetic_imagenet.py',
    '../_base_/schedules/synthetic-cls_15e.py', '../_base_/mcl_mm_runtime.py'
]
model = dict(head=dict(num_classes=10))

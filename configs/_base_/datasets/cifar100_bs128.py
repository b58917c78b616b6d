# CIFAR-100 (the python release) for mcl_mm.ImageClassifier, the MCL reference's data recipe
# (main_cifar.py): data/cifar100/cifar-100-python/{train,test,meta}; random 32x32 crop of the
# 4-pixel padded image and horizontal flip for training; batches of 128 made of pairs of
# same-class images (mcl_mm.ClassBalancedSampler, the reference's MPerClassSampler(m=2)).
dataset_type = 'mcl_mm.CIFAR100Dataset'
data_root = 'data/cifar100'
train_pipeline = [
    dict(type='mcl_mm.RandomCropPad', size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mcl_mm.PackClsInputs'),
]
test_pipeline = [dict(type='mcl_mm.PackClsInputs')]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='mcl_mm.ClassBalancedSampler', samples_per_class=2),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mcl_mm.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator

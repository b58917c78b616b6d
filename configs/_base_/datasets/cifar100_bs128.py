# CIFAR-100 (the python release, read by mmpretrain's CIFAR100 from
# data/cifar100/cifar-100-python/{train,test,meta}) at the MCL reference's data recipe
# (main_cifar.py): mmpretrain's cifar100_bs16.py pipelines (random 32x32 crop of the 4-pixel
# padded image and horizontal flip for training; the CIFAR-100 mean/std of the RGB images,
# data_preprocessor at the top level as mmpretrain gives it), with batches of 128 made of pairs
# of same-class images (mcl_mm.ClassBalancedSampler, the reference's MPerClassSampler(m=2)),
# test batches of 100 and top-1/top-5 accuracy.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(_delete_=True, type='mcl_mm.ClassBalancedSampler', samples_per_class=2))
val_dataloader = dict(
    batch_size=100, num_workers=8, persistent_workers=True,
    dataset=dict(data_root='data/cifar100'))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, 5))
test_evaluator = val_evaluator

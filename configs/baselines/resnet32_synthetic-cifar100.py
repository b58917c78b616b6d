# CIFAR ResNet-32 image classifier (configs/mcl/resnet32_300e_cifar100.py: mmpretrain's
# ImageClassifier with mcl_mm.CIFARResNet, 3x3 stem, three stages of 5 BasicBlocks with
# 16/32/64 channels), the CIFAR-100 recipe of the MCL code (`main_cifar.py`: random 32x32 crop
# of the 4-pixel padded image and horizontal flip, CIFAR mean/std, SGD with Nesterov momentum,
# weight decay 5e-4, cosine schedule, batches of pairs of same-class images from
# `MPerClassSampler(m=2)`, here mcl_mm.ClassBalancedSampler), trained from scratch on the
# synthetic CIFAR-100-format set (`python tools/misc/make_synthetic_data.py cifar100
# data/synthetic/cifar100`: the pickles of cifar-100-python.tar.gz; 10 of the 100 classes are
# used, labels 0, 11, ..., 99). The synthetic pickles are not the release's, so they are read by
# mcl_mm.SyntheticCIFAR100: mmpretrain's CIFAR100 checking the md5 sums the generator wrote
# (cifar-100-python.synthetic.json) instead of the release's.
# Differences from the reference, for a 2-core CPU: 200 training images instead of 50000,
# batch 32 instead of 128 and 30 epochs instead of 300 (lr 0.1 as there).
_base_ = ['../mcl/resnet32_300e_cifar100.py']

data_root = 'data/synthetic/cifar100'
dataset = dict(type='mcl_mm.SyntheticCIFAR100', data_root=data_root)
train_dataloader = dict(batch_size=32, num_workers=2, persistent_workers=False,
                        dataset=dataset)
val_dataloader = dict(batch_size=50, num_workers=2, persistent_workers=False, dataset=dataset)
test_dataloader = val_dataloader

max_epochs = 30
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=1))

# MCL(x2) on CIFAR-100: two ResNet-32 (resnet32_300e_cifar100.py, same recipe) trained online
# together with the four MCL terms in their in-batch supervised form, as the authors'
# main_cifar.py: tau 0.1, positives are the batch's other images of the class (the class-
# balanced sampler puts 2 per class in each batch), weights VCL 0.1, soft VCL 1, ICL 0.1, soft
# ICL 1 (soft terms at T=3). Paper: 70.91 -> 72.96 top-1 (each member).
_base_ = ['./resnet32_300e_cifar100.py', './_base_/mcl_cls.py']
member = dict(cfg_path='{{fileDirname}}/resnet32_300e_cifar100.py')
model = dict(
    _delete_=True,
    type='mcl_mm.MCLCohort',
    members=[member, member],
    level='image',
    embeddings={{_base_.mcl_cls_embeddings}},
    logits={{_base_.mcl_cls_logits}},
    mcl_loss=dict(
        type='mcl_mm.MCLLoss', in_channels=[64, 64], embed_dim=128, tau=0.1,
        kd_temperature=3.0, loss_weights={{_base_.mcl_cls_loss_weights}}),
    predict_member='all')
val_evaluator = dict(
    _delete_=True, type='mcl_mm.MemberMetric', metric=dict(type='Accuracy', topk=(1, 5)))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='m0/accuracy/top1', rule='greater'))

# MCL between mmpretrain classifiers (memory form on ImageNet, in-batch on CIFAR): the cohort of
# ./mcl.py with each member's logits the final linear layer of its LinearClsHead (head.fc), for
# mutual KD and L-MCL, and every member scored with mmpretrain's Accuracy (top-1, top-5).
_base_ = ['./mcl.py']
model = dict(logits=dict(module='head.fc', io='output'))
# the evaluators of a cohort config: val_evaluator = {{_base_.mcl_cls_evaluator}} and
# test_evaluator = {{_base_.mcl_cls_test_evaluator}}: two dicts, as the _delete_ of one dict
# serving both keys would be consumed by the first merge
mcl_cls_evaluator = dict(
    _delete_=True, type='mcl_mm.MemberMetric', metric=dict(type='Accuracy', topk=(1, 5)))
mcl_cls_test_evaluator = mcl_cls_evaluator

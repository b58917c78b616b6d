# Image-level MCL between mmpretrain classifiers (memory form on ImageNet, in-batch on CIFAR),
# as variables a config puts into its mcl_mm.MCLCohort: the embedding of a member is its pooled
# last backbone stage, its logits the final linear layer of its LinearClsHead (head.fc).
mcl_cls_embeddings = dict(module='backbone', index=-1)
mcl_cls_logits = dict(module='head.fc', io='output')
# paper weights: VCL 0.1, soft VCL 1, ICL 0.1, soft ICL 1
mcl_cls_loss_weights = dict(vcl=0.1, soft_vcl=1.0, icl=0.1, soft_icl=1.0)

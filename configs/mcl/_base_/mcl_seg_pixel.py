# Pixel-level MCL between segmentors (mcl_mm's dense extension of MCL): the parts every
# segmentation cohort shares, as variables a config puts into its mcl_mm.MCLCohort
# (``embeddings={{_base_.mcl_seg_embeddings}}``). The embedding of a member is the input of
# its decode_head.conv_seg (the post-dropout head feature at 1/8 resolution); the logits are
# its output.
_base_ = ['../../_base_/mcl_mm_runtime.py']
mcl_seg_embeddings = dict(module='decode_head.conv_seg', io='input')
mcl_seg_logits = dict(module='decode_head.conv_seg', io='output')
# MCL's four terms at the paper's (CIFAR, in-batch) weights; the contrast set is up to 16
# pixels per class per image of the batch, sampled within the class (never ignore pixels)
mcl_seg_loss_weights = dict(vcl=0.1, soft_vcl=1.0, icl=0.1, soft_icl=1.0)
mcl_seg_pixel_sampling = dict(pixels_per_class=16, ignore_index=255)
mcl_seg_mutual_kd = dict(type='mcl_mm.MutualKDLoss', temperature=3.0, loss_weight=1.0)

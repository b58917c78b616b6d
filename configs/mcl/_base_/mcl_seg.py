# Pixel-level MCL between segmentors (mcl_mm's dense form of MCL): the cohort of ./mcl.py with
# each member's embedding the input of its decode_head.conv_seg (the post-dropout head feature)
# and its logits the output, up to 16 pixels per class and image sampled within the class
# (never ignore pixels), mutual logit KD toward the cohort mean (T 3), every member scored with
# mmseg's IoUMetric and the best checkpoint kept by member 0's mIoU. The channel counts are
# read from the recorded convolutions.
_base_ = ['./mcl.py']
model = dict(
    level='pixel',
    embeddings=dict(_delete_=True, module='decode_head.conv_seg', io='input'),
    logits=dict(module='decode_head.conv_seg', io='output'),
    mcl_loss=dict(pixel_sampling=dict(pixels_per_class=16, ignore_index=255)),
    mutual_kd=dict(type='mcl_mm.MutualKDLoss', temperature=3.0, loss_weight=1.0))
# the evaluators of a cohort config: val_evaluator = {{_base_.mcl_seg_evaluator}} and
# test_evaluator = {{_base_.mcl_seg_test_evaluator}}: two dicts, as the _delete_ of one dict
# serving both keys would be consumed by the first merge
mcl_seg_evaluator = dict(
    _delete_=True, type='mcl_mm.MemberMetric', metric=dict(type='IoUMetric', iou_metrics=['mIoU']))
mcl_seg_test_evaluator = mcl_seg_evaluator

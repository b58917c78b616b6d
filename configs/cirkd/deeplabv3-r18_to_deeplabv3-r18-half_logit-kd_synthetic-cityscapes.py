# Logit KD alone, the baseline CIRKD builds on: the synthetic CIRKD pair
# (deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py) with its pixel-wise KD of the
# logits and without the relational losses (mini-batch and memory), so the quick-start demo
# (tools/demo.py) shows what the relations add.
_base_ = ['./deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py']
model = dict(
    distill_losses=dict(_delete_=True, loss_kd={{_base_.model.distill_losses.loss_kd}}))

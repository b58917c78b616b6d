# Logit KD alone, the baseline CIRKD builds on: the synthetic CIRKD pair
# (deeplabv3_r18_to_r18-w32_synthetic-cityscapes.py) with its pixel-wise KD of the logits and
# without the relational losses (mini-batch and memory), so the quick-start demo (tools/demo.py)
# shows what the relations add.
_base_ = ['./deeplabv3_r18_to_r18-w32_synthetic-cityscapes.py']
model = dict(distill_losses=dict(_delete_=True, loss_kd={{_base_.cirkd_losses.loss_kd}}))

# Layer-wise MCL (L-MCL, TPAMI 2023) on ImageNet-1k with two ResNet-50, as the authors'
# main_layer_mcl_imagenet_meta.py without its meta-learned pair weights (uniform weights 1): an
# auxiliary branch after each of the first three stages (one block per copied stage, pooling,
# classifier), every stage view of one member contrasted with every stage view of the other
# against the members' memories, a stage aggregator per member with logit KD (T=3) toward it;
# 100 epochs, lr x0.1 at 30, 60, 90. The loss weights are the authors' (--alpha 0.01, --gamma 1,
# --beta 0.01, --lam 1) and mean what theirs mean: with several views per member MCLLoss sums
# the terms as their layer-wise loss does (each view's VCL 2 (N-1) S = 8 times, each ordered
# pair's soft VCL, ICL and soft ICL twice; see configs/mcl/README.md).
# Paper: ResNet-50 76.28 -> 78.35 top-1. Branches, heads and aggregators are not exported.
_base_ = ['./resnet50x2_90e_imagenet.py']
model = dict(
    mcl_loss=dict(in_channels=[[2048] * 4, [2048] * 4],
                  loss_weights=dict(vcl=0.01, soft_vcl=1.0, icl=0.01, soft_icl=1.0)),
    layerwise=dict(stages=['layer1', 'layer2', 'layer3', 'layer4'], blocks_per_stage=1,
                   kd_temperature=3.0, kd_weight=1.0))
max_epochs = 100
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1, begin=0,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)

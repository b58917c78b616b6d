# Layer-wise MCL (L-MCL) for the cohort of resnet18x2_synthetic-imagenet.py: an auxiliary
# branch after each of the first three stages (one block per copied stage), every stage view
# of one member contrasted with every stage view of the other, stage aggregators with logit KD.
# The small-scale check of resnet50x2_lmcl_100e_imagenet.py, with its loss weights (the
# authors' L-MCL ImageNet weights, summed as their layer-wise loss sums the terms).
_base_ = ['./resnet18x2_synthetic-imagenet.py']
model = dict(
    mcl_loss=dict(in_channels=[[512] * 4, [512] * 4],
                  loss_weights=dict(vcl=0.01, soft_vcl=1.0, icl=0.01, soft_icl=1.0)),
    layerwise=dict(stages=['layer1', 'layer2', 'layer3', 'layer4'], blocks_per_stage=1,
                   kd_temperature=3.0, kd_weight=1.0))

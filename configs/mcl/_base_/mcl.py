# The MCL cohort every MCL config starts from (Yang et al., AAAI 2022): an mcl_mm.MCLCohort with
# image-level MCL (each member's embedding: its last backbone stage, pooled) and MCL's four
# terms at the paper's weights (VCL 0.1, soft VCL 1, ICL 0.1, soft ICL 1; tau 0.1, 128-d
# projections, T 3 for the soft terms); every member is scored at validation (m0/..., m1/...:
# a config wraps its metric in mcl_mm.MemberMetric) and preprocesses the batch itself. A config
# adds its data set and schedule and sets model.members and mcl_loss.in_channels (the channels
# of each member's embedding), plus what its form changes (./mcl_seg.py: pixel level;
# ./mcl_cls.py: classifiers, memories).
_base_ = ['../../_base_/mcl_mm_runtime.py']
model = dict(
    type='mcl_mm.MCLCohort',
    level='image',
    embeddings=dict(module='backbone', index=-1),
    mcl_loss=dict(
        type='mcl_mm.MCLLoss', embed_dim=128, tau=0.1, kd_temperature=3.0,
        loss_weights=dict(vcl=0.1, soft_vcl=1.0, icl=0.1, soft_icl=1.0)),
    predict_member='all',
    data_preprocessor=None)  # each member its own

# What every mcl_mm method config adds to its toolbox's runtime. It defines no key that toolbox
# configs define, so it combines with any of them as a sibling base (YOLOX, RTMDet and mmpose
# configs define custom_hooks of their own):
#   _base_ = ['mmdet::yolox/yolox_s_8xb8-300e_coco.py', 'mcl_mm::_base_/mcl_mm_runtime.py']
# - custom_imports: mcl_mm's registry nodes, checkpoint allow-list and atomic checkpoint writes;
# - runner_type='mcl_mm.Runner': mmengine's Runner, which appends mcl_mm_hooks to the config's
#   own custom_hooks (a hook type already listed there is not added twice);
# - mcl_mm_hooks:
#   - mcl_mm.RNGStateHook saves/restores the random generators' states in checkpoints, so that
#     `--resume` continues the interrupted run exactly;
#   - mcl_mm.ConsistencyCheckHook checks before training that the heads and losses ignore the
#     same label value as the training set;
#   - mcl_mm.FiniteLossHook stops at the first NaN/Inf loss (naming it and the iteration)
#     before it is saved, so the last checkpoint stays good;
#   - mcl_mm.DatasetCheckHook reads every training and validation sample's files before
#     training and stops with the list of unreadable images/labels and out-of-range label
#     values (list dict(type='mcl_mm.DatasetCheckHook', policy='skip') in custom_hooks to drop
#     them instead, logging each; tools/misc/check_dataset.py does the same scan by hand).
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
runner_type = 'mcl_mm.Runner'
mcl_mm_hooks = [
    dict(type='mcl_mm.RNGStateHook'),
    dict(type='mcl_mm.ConsistencyCheckHook'),
    dict(type='mcl_mm.FiniteLossHook'),
    dict(type='mcl_mm.DatasetCheckHook')
]

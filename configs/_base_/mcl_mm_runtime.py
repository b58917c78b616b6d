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
#   - mcl_mm.DatasetCheckHook checks the training and validation sets before training and
#     stops with the list of bad files: on every start, every sample's image/label files must
#     exist, be readable and not be empty, and listed class labels be in range (a stat per
#     file, ~1-2 s per 100 000 samples); 200 evenly spread samples of each set are decoded as
#     the pipeline reads them (unreadable images/labels, label maps of the wrong size or with
#     out-of-range values), once per data-set version: the outcome is recorded under
#     work_dir/dataset_checks/ by a fingerprint of the listed files' sizes and times, so
#     `--resume` does not decode again. dict(type='mcl_mm.DatasetCheckHook', policy='skip') in
#     custom_hooks drops bad samples instead (logging each), max_decode=None decodes all;
#     tools/misc/check_dataset.py decodes every sample by hand.
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
runner_type = 'mcl_mm.Runner'
mcl_mm_hooks = [
    dict(type='mcl_mm.RNGStateHook'),
    dict(type='mcl_mm.ConsistencyCheckHook'),
    dict(type='mcl_mm.FiniteLossHook'),
    dict(type='mcl_mm.DatasetCheckHook')
]

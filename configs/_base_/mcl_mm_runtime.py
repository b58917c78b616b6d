# What every mcl_mm method config adds to its toolbox's runtime: import mcl_mm (its registry
# nodes, checkpoint allow-list and atomic checkpoint writes) and four hooks:
# - mcl_mm.RNGStateHook saves/restores the random generators' states in checkpoints, so that
#   `--resume` continues the interrupted run exactly;
# - mcl_mm.ConsistencyCheckHook checks before training that the heads and losses ignore the
#   same label value as the training set;
# - mcl_mm.FiniteLossHook stops at the first NaN/Inf loss (naming it and the iteration) before
#   it is saved, so the last checkpoint stays good;
# - mcl_mm.DatasetCheckHook reads every training and validation sample's files before training
#   and stops with the list of unreadable images/labels and out-of-range label values
#   (policy='skip' drops them instead, logging each; tools/misc/check_dataset.py does the same
#   scan by hand).
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
custom_hooks = [
    dict(type='mcl_mm.RNGStateHook'),
    dict(type='mcl_mm.ConsistencyCheckHook'),
    dict(type='mcl_mm.FiniteLossHook'),
    dict(type='mcl_mm.DatasetCheckHook')
]

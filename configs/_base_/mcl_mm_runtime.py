# What every mcl_mm method config adds to its toolbox's runtime: import mcl_mm (its registry
# nodes and checkpoint allow-list), and save/restore the random generators' states in
# checkpoints so that `--resume` continues the interrupted run exactly (mcl_mm.RNGStateHook).
custom_imports = dict(imports=['mcl_mm'], allow_failed_imports=False)
custom_hooks = [dict(type='mcl_mm.RNGStateHook')]

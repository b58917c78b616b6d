#!/usr/bin/env bash
# Distributed training with torchrun:  bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# On a machine without CUDA the processes talk over gloo (see mcl_mm/engine/dist.py).
TOOLS=$(dirname "$0")
exec bash "$TOOLS/torchrun.sh" "$2" "$TOOLS/train.py" "$1" --launcher pytorch "${@:3}"

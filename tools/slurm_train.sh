#!/usr/bin/env bash
# Slurm training:  GPUS=8 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
TOOLS=$(dirname "$0")
exec bash "$TOOLS/srun.sh" "$1" "$2" "$TOOLS/train.py" "$3" "${@:4}"

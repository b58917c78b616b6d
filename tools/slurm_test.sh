#!/usr/bin/env bash
# Slurm testing:  GPUS=8 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
TOOLS=$(dirname "$0")
exec bash "$TOOLS/srun.sh" "$1" "$2" "$TOOLS/test.py" "$3" "$4" "${@:5}"

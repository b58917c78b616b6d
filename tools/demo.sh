#!/usr/bin/env bash
# The quick start on a fresh machine: install what is missing, then run the CIRKD demo
# (tools/demo.py: synthetic Cityscapes-format set, teacher, student alone, + logit KD,
# + CIRKD, the mIoU table and WORK_DIR/demo.png).
#
#   bash tools/demo.sh [--work-dir work_dirs/demo] [--iters 120]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash tools/install.sh
exec "${PYTHON:-python}" tools/demo.py "$@"

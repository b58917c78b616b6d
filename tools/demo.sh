#!/usr/bin/env bash
# The quick-start job: install what is missing, make the synthetic Cityscapes-format set,
# train DeepLabV3-R18 on it with tools/train.py and score it with tools/test.py (mIoU).
#
#   bash tools/demo.sh [WORK_DIR]        (default: work_dirs/demo)
#
# Runs on a 2-core CPU in a few minutes; needs no download.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}
WORK_DIR=${1:-work_dirs/demo}
CONFIG=configs/baselines/deeplabv3_r18_synthetic-cityscapes.py
DATA=data/synthetic/cityscapes

bash tools/install.sh
"$PY" tools/misc/make_synthetic_data.py cityscapes "$DATA" --seed 0
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" 2>&1 | tee "$WORK_DIR/test.log"
echo "[demo] checkpoint: $CKPT"
grep -o 'mIoU: [0-9.]*' "$WORK_DIR/test.log" | tail -1 | sed 's/^/[demo] synthetic Cityscapes val /'

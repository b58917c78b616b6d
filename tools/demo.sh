#!/usr/bin/env bash
# The quick-start job, a CIRKD demo that needs no download:
#   1. install what is missing;
#   2. make the synthetic Cityscapes-format set (data/synthetic/cityscapes);
#   3. train the teacher, DeepLabV3-R18 (kept: skipped when its checkpoint exists);
#   4. train the half-width student alone (its baseline), then distil it from the teacher
#      with CIRKD, all with tools/train.py;
#   5. score the three with tools/test.py and print the mIoU table.
#
#   bash tools/demo.sh [WORK_DIR]        (default: work_dirs/demo)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}
WORK=${1:-work_dirs/demo}
DATA=data/synthetic/cityscapes
TEACHER_CFG=configs/baselines/deeplabv3-r18_synthetic-cityscapes.py
STUDENT_CFG=configs/baselines/deeplabv3-r18-half_synthetic-cityscapes.py
CIRKD_CFG=configs/cirkd/deeplabv3-r18_to_deeplabv3-r18-half_synthetic-cityscapes.py

bash tools/install.sh
"$PY" tools/misc/make_synthetic_data.py cityscapes "$DATA" --seed 0

TEACHER_CKPT=$WORK/teacher/iter_300.pth
if [ -f "$TEACHER_CKPT" ]; then
    echo "[demo] teacher checkpoint found: $TEACHER_CKPT"
else
    "$PY" tools/train.py "$TEACHER_CFG" --work-dir "$WORK/teacher"
fi
"$PY" tools/train.py "$STUDENT_CFG" --work-dir "$WORK/student"
"$PY" tools/train.py "$CIRKD_CFG" --work-dir "$WORK/cirkd" \
    --cfg-options model.teacher_ckpt="$TEACHER_CKPT"

miou() {  # CONFIG CHECKPOINT NAME [test.py args] -> the mIoU tools/test.py prints
    "$PY" tools/test.py "$1" "$2" --work-dir "$WORK/test_$3" "${@:4}" > "$WORK/test_$3.log" 2>&1 \
        || { tail -20 "$WORK/test_$3.log"; exit 1; }
    grep -o 'mIoU: [0-9.]*' "$WORK/test_$3.log" | tail -1 | cut -d' ' -f2
}
T=$(miou "$TEACHER_CFG" "$TEACHER_CKPT" teacher)
S=$(miou "$STUDENT_CFG" "$WORK/student/iter_300.pth" student)
D=$(miou "$CIRKD_CFG" "$WORK/cirkd/iter_300.pth" cirkd --cfg-options model.teacher_ckpt="$TEACHER_CKPT")
cat <<TABLE
[demo] synthetic Cityscapes val (8 images), mIoU after 300 iterations each:
[demo] | model                                   | mIoU  |
[demo] | teacher  DeepLabV3-R18                  | $T |
[demo] | student  DeepLabV3-R18-w32, alone       | $S |
[demo] | student  DeepLabV3-R18-w32, CIRKD       | $D |
TABLE

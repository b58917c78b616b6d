#!/usr/bin/env bash
# Install the pinned OpenMMLab stack that mcl_mm runs on, then mcl_mm itself (editable).
#
#   bash tools/install.sh
#
# Idempotent: every step checks what is installed and skips it when the version is right.
# Uses the interpreter named by $PYTHON (default: `python`), so activate a virtual
# environment first if you want one.  Prebuilt wheels are taken from $PIP_FIND_LINKS when
# offered (CI points it at ../shared/wheels); without them mmcv is compiled from source with
# its ops (about 25 minutes on 2 cores).
#
# GPU users: install torch and torchvision for your CUDA first, then `pip install -U openmim &&
# mim install mmcv==2.1.0` to get a matching prebuilt mmcv; this script then skips them.
set -euo pipefail

PY=${PYTHON:-python}
PY=$("$PY" -c 'import sys; print(sys.executable)')  # absolute: some steps run from /
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIP=("$PY" -m pip install --disable-pip-version-check)

say() { echo "[install] $*"; }

# version of an installed distribution, or empty
dist_version() {
    "$PY" - "$1" <<'PYEOF'
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
PYEOF
}

# ensure NAME==VERSION [extra pip args...]
ensure() {
    local name=$1 version=$2
    shift 2
    local have
    have=$(dist_version "$name")
    if [ "$have" = "$version" ]; then
        say "$name $version already installed"
    else
        say "installing $name==$version (found: ${have:-none})"
        "${PIP[@]}" "$@" "$name==$version"
    fi
}

# ensure a set of unpinned runtime packages is importable/installed
ensure_any() {
    local missing=()
    for name in "$@"; do
        [ -n "$(dist_version "$name")" ] || missing+=("$name")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "already installed: $*"
    else
        say "installing ${missing[*]}"
        "${PIP[@]}" "${missing[@]}"
    fi
}

# first wheel of NAME-VERSION for this interpreter and machine in the $PIP_FIND_LINKS folders
PYTAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
find_wheel() {
    local pattern="$1-$PYTAG-$PYTAG-*linux_$(uname -m).whl" dir
    for dir in ${PIP_FIND_LINKS:-}; do
        dir=${dir#file://}
        [ -d "$dir" ] || continue
        for f in "$dir"/$pattern; do
            [ -f "$f" ] && { echo "$f"; return 0; }
        done
    done
    return 0
}

say "python: $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"

# 1. torch + torchvision: a pair that imports together is kept (GPU users install theirs from
#    the PyTorch index for their CUDA first); else the package registry's default torch 2.13.0
#    build (the Linux wheel with CUDA libraries; it runs on CPU) and torchvision 0.28.0.
#    torchvision's wheels do not load with a `+cpu` torch ("operator torchvision::nms does not
#    exist"), so a `+cpu` torch 2.13.0 is replaced (the `!=` keeps pip off a local `+cpu` wheel).
torch_have=$(dist_version torch)
if [ -n "$torch_have" ] && "$PY" -c 'import torch, torchvision' >/dev/null 2>&1; then
    say "torch $torch_have and torchvision $(dist_version torchvision) already installed (kept)"
elif [ -z "$torch_have" ] || [ "${torch_have%+cpu}" = "2.13.0" ]; then
    say "installing torch==2.13.0 (default build) and torchvision==0.28.0 (found: torch ${torch_have:-none})"
    "${PIP[@]}" "torch==2.13.0,!=2.13.0+cpu" "torchvision==0.28.0"
else
    echo "[install] ERROR: torch $torch_have is installed without a torchvision that loads with" \
         "it: install the torchvision release made for it (https://pytorch.org/get-started/" \
         "locally/), then run this script again" >&2
    exit 1
fi

# 2. mmengine first (mmcv's wheel does not pin it), then mmcv 2.1.0 with compiled ops.  Its setup.py imports pkg_resources and must see the
#    installed torch, hence --no-build-isolation and a setuptools that still has pkg_resources.
ensure mmengine 0.10.7
mmcv_ok() { "$PY" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' >/dev/null 2>&1; }
if mmcv_ok; then
    say "mmcv 2.1.0 with ops already installed"
else
    [ -n "$(dist_version mmcv)" ] && say "mmcv present but wrong version or without ops: reinstalling"
    "$PY" -m pip uninstall -y mmcv mmcv-lite >/dev/null 2>&1 || true
    wheel=$(find_wheel mmcv-2.1.0)
    if [ -n "$wheel" ]; then
        say "installing mmcv from prebuilt wheel $wheel"
        "${PIP[@]}" --no-deps "$wheel"
        ensure_any addict packaging pillow pyyaml yapf opencv-python
    else
        say "building mmcv 2.1.0 with ops from source (about 25 minutes on 2 cores)"
        "${PIP[@]}" "setuptools==69.5.1" wheel ninja
        ensure_any addict packaging pillow pyyaml yapf opencv-python
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" --no-build-isolation -v mmcv==2.1.0
    fi
    mmcv_ok || { echo "[install] ERROR: mmcv 2.1.0 installed but mmcv.ops does not import" >&2; exit 1; }
fi

# 3. setuptools for run time: torch 2.13 wants >=77; mmengine resolves `mmseg::` bases with
#    pkg_resources, which setuptools 82 removed.
st=$(dist_version setuptools)
if "$PY" -c "import sys; v=tuple(int(x) for x in '$st'.split('.')[:2]); sys.exit(0 if (77,) <= v < (82,) else 1)" 2>/dev/null; then
    say "setuptools $st already in [77, 82)"
else
    say "installing setuptools>=77,<82 (found: ${st:-none})"
    "${PIP[@]}" "setuptools>=77,<82"
fi

# 4. the OpenMMLab toolboxes.
ensure mmsegmentation 1.2.2
ensure mmdet 3.3.0
ensure_any ftfy regex opencv-python

# 5. mmpose: --no-deps (its chumpy requirement does not build); its real runtime needs by hand.
#    xtcocotools must be built against numpy 2: the registry's binary wheel is built against
#    numpy 1 and fails to import.
xtc_ok() { "$PY" -c 'import xtcocotools.coco, xtcocotools._mask' >/dev/null 2>&1; }
if xtc_ok; then
    say "xtcocotools already installed and importable"
else
    "$PY" -m pip uninstall -y xtcocotools >/dev/null 2>&1 || true
    wheel=$(find_wheel 'xtcocotools-*')
    if [ -n "$wheel" ]; then
        say "installing xtcocotools from $wheel"
        "${PIP[@]}" "$wheel"
    else
        say "building xtcocotools from source against the installed numpy"
        ensure_any cython numpy matplotlib
        "${PIP[@]}" --no-binary xtcocotools --no-build-isolation xtcocotools
    fi
    xtc_ok || { echo "[install] ERROR: xtcocotools does not import" >&2; exit 1; }
fi
ensure_any json_tricks munkres scipy matplotlib pillow
ensure mmpose 1.3.2 --no-deps
# classification (MCL's ImageNet / CIFAR-100 cohorts): mmpretrain and its small requirements
ensure mmpretrain 1.2.0

# 6. mcl_mm itself, editable, plus test tools.
# (checked from / so that the repository folder itself is not on sys.path)
if (cd / && "$PY" -c 'import mcl_mm, os, sys; sys.exit(0 if os.path.dirname(os.path.dirname(os.path.realpath(mcl_mm.__file__))) == sys.argv[1] else 1)' "$ROOT") >/dev/null 2>&1; then
    say "mcl_mm already installed from $ROOT"
else
    say "installing mcl_mm (editable) from $ROOT"
    "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"
fi
# mim (`mim train mcl_mm CONFIG`) and mmengine (`mcl_mm::` config bases) look for the package
# next to its distribution's metadata (<site-packages>/mcl_mm/.mim/configs); an editable
# install keeps it in the repository, so it is linked there (a wheel install needs no link).
(cd / && "$PY" - "$ROOT" <<'PYEOF'
import os, sys
from importlib import metadata
root = sys.argv[1]
dist = metadata.distribution('mcl_mm')
site = str(dist.locate_file(''))
target = os.path.join(site, 'mcl_mm')
if os.path.realpath(target) == os.path.join(root, 'mcl_mm'):
    print(f'[install] mcl_mm already found by mim at {target}')
elif not os.path.realpath(site).startswith(os.path.realpath(sys.prefix) + os.sep):
    # e.g. a venv with --system-site-packages that sees another environment's mcl_mm
    print(f'[install] mcl_mm is installed outside this environment ({target}): not linked')
elif not os.path.exists(target) or os.path.islink(target):
    # a link of ours (possibly to another checkout: re-pointed) or none yet
    if os.path.islink(target):
        os.remove(target)
    os.symlink(os.path.join(root, 'mcl_mm'), target)
    print(f'[install] linked {target} -> {root}/mcl_mm for mim and mcl_mm:: configs')
else:
    print(f'[install] {target} is a real folder (a wheel install?): not linked')
PYEOF
)
ensure_any pytest pytest-xdist

# 7. mim (its `download` of data sets needs opendatalab, whose requirements would downgrade
#    setuptools below what torch needs: left out) and TensorBoard (tools/train.py --tensorboard).
if [ -n "$(dist_version openmim)" ]; then
    say "openmim $(dist_version openmim) already installed"
else
    say "installing openmim (without opendatalab)"
    "${PIP[@]}" --no-deps "openmim==0.3.9"
fi
ensure_any click colorama model-index pandas requests rich tabulate tensorboard

(cd / && "$PY" -c 'import mcl_mm; print("[install] mcl_mm", mcl_mm.__version__, "ready from", mcl_mm.__file__)')

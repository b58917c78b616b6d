#!/usr/bin/env bash
# Install what is missing, then run the test suite (slow end-to-end tests included).
#
#   bash tools/run_tests.sh [pytest args...]
#
# Fails when a test fails and when no test ran (pytest's exit code 5).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash tools/install.sh || exit 1
${PYTHON:-python} -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "[run_tests] ERROR: pytest collected no tests" >&2
    exit 1
fi
exit $rc

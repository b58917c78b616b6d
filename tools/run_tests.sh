#!/usr/bin/env bash
# Install what is missing, then run the test suite (slow end-to-end tests included).
#
#   bash tools/run_tests.sh [pytest args...]
#
# The tests run in $PYTEST_WORKERS pytest-xdist processes (default 2, one per core of the
# 2-core CI machine; 0 runs them in this process), each with one torch/OpenMP thread unless
# OMP_NUM_THREADS is set: most of a test is single-threaded Python (imports, config parsing,
# runner set-up), so two processes keep both cores busy where one process with two threads
# would leave one idle, and one thread each keeps OpenMP from spinning against the other
# process. The 25 slowest tests are listed at the end.
#
# Fails when a test fails and when no test ran (pytest's exit code 5).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash tools/install.sh || exit 1
WORKERS=${PYTEST_WORKERS:-2}
ARGS=(--durations=25)
if [ "$WORKERS" != 0 ]; then
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    ARGS+=(-n "$WORKERS" --dist worksteal)
fi
${PYTHON:-python} -m pytest "${ARGS[@]}" "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "[run_tests] ERROR: pytest collected no tests" >&2
    exit 1
fi
exit $rc

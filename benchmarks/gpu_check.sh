#!/usr/bin/env bash
# GPU check on one machine with a CUDA GPU, CuPy and PyTorch already installed (no network needed):
#   1. make deepcore importable from this checkout (offline editable install only if needed),
#   2. the test suite on the cuda device (tests whose id contains "cuda"),
#   3. deepcore-bench --device cpu,cuda --compare torch (and --capture on cuda when the build has it).
# Every log goes to LOGDIR; exit codes go to LOGDIR/summary.txt. Later steps run even when earlier ones
# fail, and the whole script stays under 8 minutes (each step's timeout is clipped to what is left).
#
# usage: benchmarks/gpu_check.sh LOGDIR        (run from anywhere; it works in the repository root)
# env:   TEST_TIMEOUT BENCH_TIMEOUT CAPTURE_TIMEOUT (seconds), BENCH_ARGS (extra deepcore-bench arguments),
#        PYTEST_ARGS (default: -k cuda --maxfail=10 -q -rfE)
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 LOGDIR" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
LOGDIR=$(cd "$1" && pwd)
cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1  # never reach for the network
export TQDM_MININTERVAL=10  # fewer progress-bar lines in the logs
PY=${PYTHON:-python}
DEADLINE=$((SECONDS + 470))  # 7 min 50 s for everything
SUMMARY="$LOGDIR/summary.txt"
: > "$SUMMARY"

# run NAME BUDGET_S CMD...: run CMD with a timeout (BUDGET_S, clipped to the time left), tee its output to
# LOGDIR/NAME.log and record "NAME rc=... seconds=..." in the summary. rc 124 means it timed out.
run() {
    local name=$1 budget=$2
    shift 2
    local left=$((DEADLINE - SECONDS - 5))
    if [ "$left" -lt "$budget" ]; then budget=$left; fi
    if [ "$budget" -lt 10 ]; then
        echo "$name rc=skipped (no time left)" | tee -a "$SUMMARY"
        return 0
    fi
    local t0=$SECONDS
    echo "== $name (timeout ${budget}s): $*" | tee "$LOGDIR/$name.log"
    timeout -k 10 "$budget" "$@" 2>&1 | tee -a "$LOGDIR/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "$name rc=$rc seconds=$((SECONDS - t0))" | tee -a "$SUMMARY"
    return 0
}

# environment: GPU, versions, commit
env_info() {
    nvidia-smi
    git log -1 --oneline
    git status --short | head -20
    $PY -c 'import sys, numpy, cupy; r = cupy.cuda.runtime
print(sys.version.split()[0], "numpy", numpy.__version__, "cupy", cupy.__version__, "cuda runtime",
      r.runtimeGetVersion(), "devices", r.getDeviceCount())'
    $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
}
export -f env_info
export PY
run env 60 bash -c env_info

# deepcore must come from this checkout and see the GPU; an offline editable install only if the import fails
if ! $PY -c "import deepcore" > /dev/null 2>&1; then
    run install 90 $PY -m pip install --no-deps --no-build-isolation --no-index -e "$REPO"
fi
run import 60 $PY -c "import deepcore as dc; print(dc.__file__, 'cuda available:', dc.cuda.is_available())"

# shellcheck disable=SC2086
run tests "${TEST_TIMEOUT:-170}" $PY -m pytest ${PYTEST_ARGS:--k cuda --maxfail=10 -q -rfE} -p no:cacheprovider

BENCH="$PY -m deepcore.bench"  # the same CLI as the deepcore-bench script, from this checkout
# shellcheck disable=SC2086
run bench "${BENCH_TIMEOUT:-200}" $BENCH --device cpu,cuda --compare torch --json "$LOGDIR/bench.json" \
    --plot "$LOGDIR/bench.png" ${BENCH_ARGS:-}
if $PY -c "import sys, deepcore.bench.runner as r; sys.exit(not r.capture_supported())" 2>/dev/null; then
    # shellcheck disable=SC2086
    run bench_capture "${CAPTURE_TIMEOUT:-90}" $BENCH --device cuda --capture --json "$LOGDIR/bench_capture.json" \
        ${BENCH_ARGS:-}
else
    echo "bench_capture rc=skipped (no dc.cuda.graphed in this build)" | tee -a "$SUMMARY"
fi

echo
echo "===== summary ($LOGDIR, ${SECONDS}s) ====="
cat "$SUMMARY"
for name in tests bench bench_capture; do
    [ -f "$LOGDIR/$name.log" ] || continue
    echo "--- $name (tail)"
    tr '\r' '\n' < "$LOGDIR/$name.log" | grep -v '^benchmark:' | tail -n 20
done
# exit status: 0 only when every recorded step passed
! grep -v 'rc=0 \|rc=skipped' "$SUMMARY" | grep -q 'rc='

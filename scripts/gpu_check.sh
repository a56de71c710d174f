#!/usr/bin/env bash
# The GPU check: xpnet on CuPy, PyTorch (CUDA) and JAX (GPU), in one command of at
# most 4 minutes on a machine that reaches no network, results written as it goes.
#
#   1. packaging  installs the bundle's wheels (.whl/, scripts/gpu_bundle.sh) that the
#                 machine lacks, without an index, into a folder put on PYTHONPATH
#   2. preflight  Python, versions, the devices each backend sees (scripts/gpu_preflight.py);
#                 one line and a stop if xpnet does not import or MNIST is missing
#                 (.data/mnist, or XPNET_DATA); one line and a failure, the rest still
#                 running, if a backend sees no GPU
#   3. bench      benchmarks/bench_gpu.py: the chapter's job on every path against its
#                 hand-written loop, and a large GEMM
#   4. tests      a GPU-relevant subset of the suite on each backend, side by side,
#                 where a backend that cannot run fails instead of skipping
#
# Results go to XPNET_GPU_OUT (default: $OUT where it is set, else benchmarks/results/gpu/),
# each as soon as its section ends: gpu_check.log, summary.json, preflight.json,
# bench_gpu.json and junit-<backend>.xml (at most 7 files). Every section has its time
# limit (SIGINT first, so a cut test run still prints its summary, then SIGKILL).
#
# Usage: scripts/gpu_check.sh [--rehearse | --cpu] [--only SECTION[,SECTION...]]
#   (none)      a GPU run; without an NVIDIA GPU it says so in one line and exits 0
#   --cpu       the CPU stands in for the GPU, in this Python (PyTorch and JAX on the CPU)
#   --rehearse  the same as --cpu, in a stand-in for the GPU machine's image: a virtual
#               environment in .gpu/image/ holding only NumPy, PyTorch, JAX and pytest
#               (made once, from the package index); xpnet's dependencies come from
#               .whl/ alone, with no index. Shows that packaging, data, the output folder
#               and the time limits work. Results default to .gpu/rehearsal/.
# With the device tool: carry [".whl", ".data"], command "bash scripts/gpu_check.sh".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
START=$SECONDS

MODE=gpu ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) MODE=cpu ;;
        --rehearse) MODE=rehearse ;;
        --only) ONLY=${2:-}; shift ;;
        *) echo "usage: scripts/gpu_check.sh [--rehearse | --cpu] [--only SECTION,...]" >&2; exit 2 ;;
    esac
    shift
done

# Time limits in seconds (the whole check: at most 4 minutes on the GPU machine).
LIMIT_PACKAGING=${XPNET_GPU_LIMIT_PACKAGING:-20}
LIMIT_PREFLIGHT=${XPNET_GPU_LIMIT_PREFLIGHT:-30}
LIMIT_BENCH=${XPNET_GPU_LIMIT_BENCH:-85}
LIMIT_TESTS=${XPNET_GPU_LIMIT_TESTS:-85}
# The tests that say most about a GPU: arrays, functions, layers, random numbers,
# compiled and eager training, precision, the same numbers on every backend.
SUBSET="tests/test_backend.py tests/test_functions.py tests/test_layers.py tests/test_random.py
tests/test_compile.py tests/test_compile_device.py tests/test_precision.py tests/test_train.py
tests/test_portable.py"

if [ "$MODE" = rehearse ]; then
    # A stand-in for the GPU machine's image, made once: its packages, none of xpnet's.
    # What the GPU machine's image has that xpnet's tests use (its versions differ: see
    # docs/gpu.md); torch==2.13.0 is this project's local CPU wheel.
    IMAGE="$ROOT/.gpu/image" PACKAGES="numpy==2.4.6 torch==2.13.0 jax==0.10.2 pytest==9.2.0 hypothesis==6.170.27"
    if [ "$(cat "$IMAGE/packages" 2>/dev/null)" != "$PACKAGES" ]; then
        echo "gpu_check: making the image stand-in $IMAGE (once; from the package index)"
        rm -rf "$IMAGE" && python3 -m venv "$IMAGE" &&
            "$IMAGE/bin/python3" -m pip install -q $PACKAGES &&
            echo "$PACKAGES" >"$IMAGE/packages" ||
            { echo "gpu_check: could not make $IMAGE" >&2; exit 1; }
    fi
    export XPNET_GPU_OUT=${XPNET_GPU_OUT:-$ROOT/.gpu/rehearsal}
    export XPNET_GPU_SITE=${XPNET_GPU_SITE:-$ROOT/.gpu/rehearsal-site}
    rm -rf "$XPNET_GPU_SITE"
    # Nothing of this machine's Python environment: the image's interpreter and the bundle.
    exec env -u PYTHONPATH -u VIRTUAL_ENV -u PYTHONHOME PATH="$IMAGE/bin:$PATH" \
        XPNET_GPU_REHEARSAL=1 bash "$ROOT/scripts/gpu_check.sh" --cpu ${ONLY:+--only "$ONLY"}
fi

if [ "$MODE" = gpu ] && ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then
    echo "gpu_check: skipped: no NVIDIA GPU on this machine (nvidia-smi finds none)."
    exit 0
fi

OUT_DIR=${XPNET_GPU_OUT:-${OUT:-$ROOT/benchmarks/results/gpu}}
mkdir -p "$OUT_DIR" || { echo "gpu_check: cannot make $OUT_DIR" >&2; exit 1; }
OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOG="$OUT_DIR/gpu_check.log"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
: >"$LOG"
: >"$WORK/sections"

LABEL=$MODE
if [ -n "${XPNET_GPU_REHEARSAL:-}" ]; then LABEL="rehearsal (cpu)"; fi
log() { echo "gpu_check: $*" | tee -a "$LOG"; }
wants() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# One line per finished section in summary.json, rewritten after each.
record() {  # name status seconds [detail]
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$WORK/sections"
    python3 - "$WORK/sections" "$OUT_DIR/summary.json" "$LABEL" "$((SECONDS - START))" <<'EOF'
import json, sys, time
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
summary = {"mode": sys.argv[3], "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "seconds_so_far": int(sys.argv[4]), "passed": all(r[1] == "ok" for r in rows),
           "sections": {r[0]: {"status": r[1], "seconds": int(r[2]), "detail": r[3]} for r in rows}}
open(sys.argv[2], "w").write(json.dumps(summary, indent=1) + "\n")
EOF
}

# Run "$@" under a limit: SIGINT first (a cut pytest still prints its summary), then KILL.
limited() {  # limit command...
    local limit=$1
    shift
    timeout -s INT -k 10 "$limit" "$@"
}

export PYTHONUNBUFFERED=1
# JAX takes 75% of the GPU's memory at start unless told not to; CuPy and torch share it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export MPLBACKEND=Agg
if [ -z "${XPNET_DATA:-}" ] && [ -f "$ROOT/.data/mnist/train-images-idx3-ubyte.gz" ]; then
    export XPNET_DATA="$ROOT/.data/mnist"
fi
SITE=${XPNET_GPU_SITE:-/tmp/xpnet-site}
export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}"
# The backends checked (XPNET_GPU_BACKENDS, space-separated, narrows them), each on its device.
if [ "$MODE" = gpu ]; then
    DEVICE=cuda CPU_FLAG="" NAMES=${XPNET_GPU_BACKENDS:-cupy torch jax}
else
    DEVICE=cpu CPU_FLAG="--cpu" NAMES=${XPNET_GPU_BACKENDS:-torch jax}
fi
log "mode $LABEL, results in $OUT_DIR, $(date '+%F %T'), python3 $(command -v python3)"
status=0

if wants packaging; then
    # Install each bundled wheel whose project this Python lacks (the image's own
    # packages stay), without an index; one project's wheel at a time is enough.
    section=$SECONDS
    missing=$(python3 - "$ROOT/.whl" <<'EOF'
import importlib.metadata as md, pathlib, sys
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    name = wheel.name.split("-")[0]
    try:
        md.version(name)
    except md.PackageNotFoundError:
        print(wheel)
EOF
)
    if [ -n "${XPNET_GPU_INSTALL_ALL:-}" ]; then missing=$(ls "$ROOT"/.whl/*.whl 2>/dev/null); fi
    if [ -z "$(ls "$ROOT"/.whl/*.whl 2>/dev/null)" ]; then
        log "packaging: no .whl/ bundle (scripts/gpu_bundle.sh): using what this Python has"
        record packaging ok $((SECONDS - section)) "no bundle"
    elif [ -z "$missing" ]; then
        log "packaging: this Python has every bundled project"
        record packaging ok $((SECONDS - section)) "nothing missing"
    elif limited "$LIMIT_PACKAGING" python3 -m pip install -q --no-index --no-deps --no-compile \
        --disable-pip-version-check --target "$SITE" $missing >>"$LOG" 2>&1; then
        names=$(echo "$missing" | xargs -n1 basename | cut -d- -f1,2 | tr '\n' ' ')
        log "packaging: installed into $SITE: $names"
        record packaging ok $((SECONDS - section)) "$names"
    else
        log "packaging: FAILED to install the bundle into $SITE (see gpu_check.log)"
        record packaging failed $((SECONDS - section))
        status=1
    fi
fi

if wants preflight; then
    section=$SECONDS
    limited "$LIMIT_PREFLIGHT" python3 scripts/gpu_preflight.py --out "$OUT_DIR" $CPU_FLAG \
        --backends "$(echo $NAMES | tr ' ' ',')" 2>&1 | tee -a "$LOG"
    rc=$?
    if [ $rc -eq 0 ]; then
        record preflight ok $((SECONDS - section))
    elif [ $rc -eq 1 ]; then  # a backend sees no GPU: a failure; the others still run
        record preflight failed $((SECONDS - section)) "$(tail -n 1 "$LOG")"
        status=1
    else
        record preflight failed $((SECONDS - section)) "$(tail -n 1 "$LOG")"
        log "stopping: nothing after the preflight can work"
        exit 1
    fi
fi

if wants bench; then
    section=$SECONDS
    log "bench: benchmarks/bench_gpu.py -> bench_gpu.json (limit ${LIMIT_BENCH} s)"
    limited "$LIMIT_BENCH" python3 benchmarks/bench_gpu.py --out "$OUT_DIR/bench_gpu.json" \
        $CPU_FLAG >>"$LOG" 2>&1
    rc=$?
    tail -n 4 "$LOG" | sed 's/^/  /'
    if [ $rc -eq 0 ]; then
        record bench ok $((SECONDS - section))
    else
        record bench "failed (exit $rc)" $((SECONDS - section))
        status=1
    fi
fi

if wants tests; then
    # Each backend's subset in its own process, side by side (one GPU, 16 cores), xdist
    # where installed; no -x: every failure is worth seeing.
    section=$SECONDS
    parallel=""
    if python3 -c "import xdist" >/dev/null 2>&1; then parallel="-n 4"; fi
    log "tests: $NAMES on $DEVICE side by side ${parallel:+(pytest $parallel each) }(limit ${LIMIT_TESTS} s)"
    for name in $NAMES; do
        XPNET_BACKEND=$name XPNET_DEVICE=$DEVICE XPNET_REQUIRE_BACKEND=1 JAX_ENABLE_X64=1 \
            limited "$LIMIT_TESTS" python3 -m pytest -q -rfEs -p no:cacheprovider \
            -p no:benchmark -m "not slow" $parallel --junitxml="$OUT_DIR/junit-$name.xml" \
            $SUBSET >"$WORK/tests-$name.log" 2>&1 &
        echo $! >"$WORK/pid-$name"
    done
    for name in $NAMES; do
        wait "$(cat "$WORK/pid-$name")"
        rc=$?
        { echo "----- tests on $name (exit $rc) -----"; cat "$WORK/tests-$name.log"; } >>"$LOG"
        last=$(grep -E "(passed|failed|error|no tests ran)" "$WORK/tests-$name.log" | tail -n 1)
        log "tests on $name: ${last:-no summary (exit $rc)}"
        if [ $rc -eq 0 ]; then
            record "tests-$name" ok $((SECONDS - section)) "$last"
        else
            record "tests-$name" "failed (exit $rc)" $((SECONDS - section)) "$last"
            status=1
        fi
    done
fi

log "done in $((SECONDS - START)) s: $([ $status -eq 0 ] && echo passed || echo FAILED); results in $OUT_DIR"
exit $status

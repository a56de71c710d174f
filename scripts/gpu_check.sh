#!/usr/bin/env bash
# The GPU check: the test suite on CuPy, PyTorch (CUDA) and JAX (GPU) (compiled
# training included: torch.compile with CUDA graphs, jax.jit), then the GPU
# benchmarks (eager and compiled, against a hand-written PyTorch loop with and
# without CUDA graphs) and the GPU sweep (dask-cuda), written to
# benchmarks/results/. Sized to finish in under 9 minutes (a device session
# allows 10 a command): each part has its own time limit, and results are
# written by each part as it ends.
#
# Installs nothing from a package index: xpnet's pure-Python dependencies come
# from wheels in .whl/ (see docs/gpu.md) or from PYTHONPATH. Without a GPU it
# says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: skipped: no NVIDIA GPU on this machine (nvidia-smi finds none)."
    exit 0
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
echo "gpu_check: $gpu"

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/xpnet-site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/xpnet-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
for candidate in "${XPNET_DATA:-}" "$PWD/.data/mnist" "$PWD/../shared/data/mnist"; do
    if [ -n "$candidate" ] && [ -f "$candidate/train-images-idx3-ubyte.gz" ]; then
        export XPNET_DATA="$candidate"
        break
    fi
done
# Exact comparisons: no TF32 in cuBLAS (CuPy, PyTorch) nor in JAX's matmuls.
export NVIDIA_TF32_OVERRIDE=0 JAX_DEFAULT_MATMUL_PRECISION=highest PYTHONUNBUFFERED=1

status=0
for spec in cupy: torch:cuda jax:cuda; do
    name=${spec%%:*} dev=${spec#*:}
    if ! python3 -c "import $name" >/dev/null 2>&1; then
        echo "gpu_check: $name is not importable here; skipping its tests."
        continue
    fi
    echo "gpu_check: tests on $name ${dev:-(default device)}"
    XPNET_BACKEND=$name XPNET_DEVICE=$dev JAX_ENABLE_X64=1 \
        timeout 110 python3 -m pytest -q -x -p no:cacheprovider -m "not slow" tests || status=1
done

slug=$(echo "$gpu" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
out="benchmarks/results/$(date +%F)-gpu-$slug.json"
echo "gpu_check: benchmarks -> $out"
timeout 150 python3 benchmarks/bench_gpu.py --out "$out" || status=1

# Sweeps on one Dask worker per GPU (dask-cuda) against CPU workers: runs per minute.
if python3 -c "import dask_cuda, distributed, cupy" >/dev/null 2>&1; then
    out="benchmarks/results/$(date +%F)-sweep-gpu-$slug.json"
    echo "gpu_check: sweep on GPU workers vs CPU workers -> $out"
    timeout 60 python3 benchmarks/bench_sweep.py --gpus --backend cupy --runs 4 --iters 1000 \
        --scaling 4 --out "$out" || status=1
else
    echo "gpu_check: dask-cuda, distributed or cupy is not importable here; skipping the GPU sweep."
fi
exit $status

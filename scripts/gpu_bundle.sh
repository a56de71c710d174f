#!/usr/bin/env bash
# Builds, on a machine that reaches the package index, what scripts/gpu_check.sh
# needs on a GPU machine that reaches nothing:
#
#   .whl/        xpnet's pure-Python dependencies and theirs, as wheels of exact
#                versions (no NumPy, CuPy, PyTorch or JAX: the GPU machine has its own)
#   .data/mnist/ the four MNIST files
#
# Both folders are ignored by git; take them along to the GPU machine (with the
# device tool: carry [".whl", ".data"]). Run it again after changing the pins below.
#
# Usage: scripts/gpu_bundle.sh [--data-only | --wheels-only]
#   MNIST comes from XPNET_DATA, else ../shared/data/mnist beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

# Exact versions, within pyproject.toml's ranges; pure Python (py3-none-any), so one
# wheel serves every Python 3.10+ and every machine. Keep one version of each.
PINS=(
    array-api-compat==1.16.0
    array-api-extra==0.11.5
    array-api-strict==2.6.1
    pooch==1.9.0
    platformdirs==4.14.9
    tqdm==4.70.1
    # pooch's: packaging, requests; and requests': certifi, charset-normalizer, idna, urllib3
    packaging==26.4
    requests==2.34.2
    certifi==2026.10.19.post1
    charset-normalizer==3.5.3
    idna==3.20
    urllib3==2.8.0
)
MNIST_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
             t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

wheels() {
    local new count
    new=$(mktemp -d)
    # --platform any: only pure-Python wheels (charset-normalizer also ships compiled ones).
    python3 -m pip download -q --no-deps --only-binary=:all: --platform any \
        --python-version 3.12 --implementation py --dest "$new" "${PINS[@]}"
    count=$(find "$new" -name '*.whl' | wc -l)
    if [ "$count" -ne "${#PINS[@]}" ]; then
        echo "gpu_bundle: expected ${#PINS[@]} wheels, got $count" >&2
        exit 1
    fi
    if find "$new" -name '*.whl' ! -name '*-none-any.whl' | grep -q .; then
        echo "gpu_bundle: not pure Python: $(find "$new" -name '*.whl' ! -name '*-none-any.whl')" >&2
        exit 1
    fi
    rm -rf .whl && mkdir .whl && mv "$new"/*.whl .whl/ && rmdir "$new"
    echo "gpu_bundle: .whl/: $count wheels, $(du -sh .whl | cut -f1)"
}

data() {
    local source=""
    for candidate in "${XPNET_DATA:-}" "$PWD/../shared/data/mnist"; do
        if [ -n "$candidate" ] && [ -f "$candidate/${MNIST_FILES[0]}" ]; then
            source=$candidate
            break
        fi
    done
    if [ -z "$source" ]; then
        echo "gpu_bundle: MNIST not found: set XPNET_DATA to a folder holding ${MNIST_FILES[*]}" >&2
        exit 1
    fi
    chmod -R u+w .data/mnist 2>/dev/null || true
    rm -rf .data/mnist && mkdir -p .data/mnist
    for f in "${MNIST_FILES[@]}"; do
        cp "$source/$f" .data/mnist/
    done
    # Read-only: xpnet then caches the parsed arrays (55 MB of .npy) in the user's
    # cache, not beside the files, and what travels stays at 11 MB (a device call
    # carries 64 MiB at most).
    chmod 555 .data/mnist
    echo "gpu_bundle: .data/mnist/: 4 files from $source, $(du -sh .data/mnist | cut -f1)"
}

case "${1:-}" in
    --data-only) data ;;
    --wheels-only) wheels ;;
    "") wheels; data ;;
    *) echo "usage: scripts/gpu_bundle.sh [--data-only | --wheels-only]" >&2; exit 2 ;;
esac

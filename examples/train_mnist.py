"""Train the chapter's TwoLayerNet on MNIST, on any backend.

    python examples/train_mnist.py                               # NumPy, CPU
    python examples/train_mnist.py --backend torch --device cuda # PyTorch on a GPU
    python examples/train_mnist.py --backend cupy                # CuPy on a GPU
    python examples/train_mnist.py --backend jax                 # JAX (GPU if it has one)

Prints the chapter's accuracy line per epoch and the iterations per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import xpnet


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--backend", default="numpy", choices=xpnet.BACKENDS)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ...")
    p.add_argument("--iters", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--hidden", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: XPNET_DATA or the cache)"
    )
    p.add_argument("--dry-run", action="store_true", help="train 10 iterations only")
    args = p.parse_args()

    backend = xpnet.backend.resolve_backend(args.backend, args.device)  # chosen once, passed down
    (x_train, t_train), test = xpnet.load_mnist(data_dir=args.data_dir, backend=backend)
    net = xpnet.TwoLayerNet(784, args.hidden, 10, backend=backend, seed=args.seed)
    iters = 10 if args.dry_run else args.iters
    start = time.perf_counter()
    history = xpnet.train(
        net,
        (x_train, t_train),
        test,
        iters=iters,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    speed = f"{iters / seconds:.0f} iterations/s ({seconds:.1f} s)"
    print(f"{backend.name} on {backend.device}: test acc {history.test_acc[-1]:.4f}, {speed}")


if __name__ == "__main__":
    try:
        main()
    except xpnet.errors.XpnetError as exc:  # one line and status 2, as the `xpnet` command
        if os.environ.get("XPNET_DEBUG", "") not in ("", "0"):
            raise
        print(f"{os.path.basename(__file__)}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)

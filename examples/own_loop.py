"""The chapter's training loop (train_neuralnet.py), written out, on any backend.

    python examples/own_loop.py                              # NumPy
    python examples/own_loop.py --backend array_api_strict   # the standard and nothing more
    python examples/own_loop.py --backend torch --device cuda

The book's NumPy-only lines and what replaces them here:

    batch_mask = np.random.choice(train_size, batch_size)  ->  rng.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]                          ->  xpnet.take_rows(x_train, batch_mask)
    print(train_acc)  (a NumPy scalar)                     ->  net.accuracy(...) is a Python float
"""

from __future__ import annotations

import argparse
import os
import sys

import xpnet


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--backend", default="numpy", choices=xpnet.BACKENDS)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, device1 ...")
    p.add_argument("--iters", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: XPNET_DATA or the cache)"
    )
    p.add_argument("--dry-run", action="store_true", help="train 10 iterations only")
    args = p.parse_args()

    xpnet.set_backend(args.backend, args.device)
    (x_train, t_train), (x_test, t_test) = xpnet.load_mnist(data_dir=args.data_dir)
    net = xpnet.TwoLayerNet(input_size=784, hidden_size=50, output_size=10, seed=args.seed)

    iters_num = 10 if args.dry_run else args.iters
    train_size, batch_size, learning_rate = x_train.shape[0], 100, 0.1
    iter_per_epoch = max(train_size // batch_size, 1)
    rng = xpnet.random.default_rng(args.seed)  # on the host: the same draws on every backend

    for i in range(iters_num):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch = xpnet.take_rows(x_train, batch_mask)
        t_batch = xpnet.take_rows(t_train, batch_mask)

        grad = net.gradient(x_batch, t_batch)  # backpropagation; net.numerical_gradient is slower
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] = net.params[key] - learning_rate * grad[key]

        if i % iter_per_epoch == 0 or i == iters_num - 1:
            loss = float(net.loss(x_batch, t_batch))
            train_acc, test_acc = net.accuracy(x_train, t_train), net.accuracy(x_test, t_test)
            accs = f"train acc, test acc | {train_acc:.4f}, {test_acc:.4f}"
            print(f"iteration {i}: loss {loss:.4f} | {accs}")


if __name__ == "__main__":
    try:
        main()
    except xpnet.errors.XpnetError as exc:  # one line and status 2, as the `xpnet` command
        if os.environ.get("XPNET_DEBUG", "") not in ("", "0"):
            raise
        print(f"{os.path.basename(__file__)}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)

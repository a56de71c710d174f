"""The chapter's gradient descent on f(x0, x1) = x0**2 + x1**2, at three learning rates.

python examples/gradient_descent.py [--backend jax]
"""

from __future__ import annotations

import argparse
import os
import sys

import xpnet


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=xpnet.BACKENDS)
    args = p.parse_args()

    with xpnet.use_backend(args.backend):
        init = xpnet.asarray([-3.0, 4.0], dtype="float64")  # the book's numbers are float64
        for point in ([3.0, 4.0], [0.0, 2.0], [3.0, 0.0]):
            grad = xpnet.numerical_gradient(function_2, xpnet.asarray(point, dtype="float64"))
            print(f"gradient at {point}: {xpnet.to_numpy(grad).round(6)}")
        for lr in (0.1, 10.0, 1e-10):
            x = xpnet.gradient_descent(function_2, init, lr=lr, step_num=100)
            print(f"lr={lr:g}: x = {xpnet.to_numpy(x)}")


if __name__ == "__main__":
    try:
        main()
    except xpnet.errors.XpnetError as exc:  # one line and status 2, as the `xpnet` command
        if os.environ.get("XPNET_DEBUG", "") not in ("", "0"):
            raise
        print(f"{os.path.basename(__file__)}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)

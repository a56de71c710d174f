"""The chapter's SimpleNet: the gradient of the loss with respect to W.

python examples/simple_net.py [--backend torch]
"""

from __future__ import annotations

import argparse
import os
import sys

import xpnet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=xpnet.BACKENDS)
    args = p.parse_args()

    with xpnet.use_backend(args.backend):
        W = xpnet.asarray(
            [[0.47355232, 0.9977393, 0.84668094], [0.85557411, 0.03563661, 0.69422093]],
            dtype="float32",
        )
        net = xpnet.SimpleNet(W)
        x = xpnet.asarray([0.6, 0.9], dtype="float32")
        t = xpnet.asarray([0.0, 0.0, 1.0], dtype="float32")
        print("scores:", xpnet.to_numpy(net.predict(x)))
        print("loss:  ", float(net.loss(x, t)))
        # The gradient of net.loss(x, t) with respect to net.W: xpnet puts the
        # perturbed values in the network's place, so this works on every backend.
        # The chapter's `numerical_gradient(lambda w: net.loss(x, t), net.W)` works
        # where W can be changed in place, and is an error saying so on JAX.
        dW = xpnet.numerical_gradient(net.loss, x, t, wrt="W")
        print("dW:\n", xpnet.to_numpy(dW))


if __name__ == "__main__":
    try:
        main()
    except xpnet.errors.XpnetError as exc:  # one line and status 2, as the `xpnet` command
        if os.environ.get("XPNET_DEBUG", "") not in ("", "0"):
            raise
        print(f"{os.path.basename(__file__)}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)

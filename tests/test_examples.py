"""examples/*.py fail as the `xpnet` command does: one line on stderr, status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.backend_independent
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_every_example_reports_xpnet_errors_in_one_line(path) -> None:
    assert "except xpnet.errors.XpnetError" in path.read_text()


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["train_mnist.py", "own_loop.py"])
def test_a_bad_device_is_one_line(name, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "XPNET_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES.parent), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--backend", "numpy", "--device", "bogus"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{name}: error: Invalid device 'bogus' for backend 'numpy': NumPy runs on 'cpu' only."
    ]

"""Standard output closed by its reader (`xpnet train | head -1`): the command stops without a
word, as Unix tools do, with status 141; a sweep leaves its store consistent (issue 22, item 14).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from xpnet.sweep import read_runs

pytestmark = [pytest.mark.mnist, pytest.mark.backend_independent]


def head(argv: list[str], lines: int, mnist_dir) -> tuple[int, str, list[str]]:
    """`xpnet ARGV | head -LINES`: the status, standard error, and the lines read."""
    env = {**os.environ, "XPNET_DATA": str(mnist_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "xpnet", *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    read = [proc.stdout.readline() for _ in range(lines)]
    proc.stdout.close()  # the reader goes away
    with proc.stderr:
        err = proc.stderr.read()
    return proc.wait(timeout=180), err, read


@pytest.mark.reliability("faults")
def test_train_into_a_closed_pipe_stops_quietly(mnist_dir) -> None:
    """`xpnet train | head -1`: status 141, nothing on standard error."""
    status, err, read = head(["train", "--iters", "400", "--eval-every", "10", "--hidden", "10"],
                             1, mnist_dir)  # fmt: skip
    assert read[0].startswith("train acc, test acc")
    assert (status, err) == (141, "")


@pytest.mark.reliability("sweep store")
def test_a_serial_sweep_into_a_closed_pipe_leaves_its_store_consistent(mnist_dir, tmp_path) -> None:
    """`xpnet sweep --serial ... | head -2`: status 141, nothing on standard error, the runs that
    finished stored and no run left `running`; the same command then does the rest."""
    store = tmp_path / "s.db"
    argv = ["sweep", "--serial", "--lr", "0.1,0.2,0.3,0.4", "--hidden", "5", "--iters", "30",
            "--train-size", "500", "--store", str(store)]  # fmt: skip
    status, err, read = head(argv, 2, mnist_dir)
    assert read[0] == "sweep: 4 of 4 runs to do, on serial\n" and read[1].startswith("[1/4]")
    assert (status, err) == (141, "")
    runs = read_runs(store)
    assert 1 <= len(runs) < 4 and {r.status for r in runs} == {"done"}
    env = {**os.environ, "XPNET_DATA": str(mnist_dir)}
    again = subprocess.run([sys.executable, "-m", "xpnet", *argv], env=env, capture_output=True,
                           text=True, timeout=180)  # fmt: skip
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.startswith(f"sweep: {4 - len(runs)} of 4 runs to do")
    assert {r.status for r in read_runs(store)} == {"done"} and len(read_runs(store)) == 4

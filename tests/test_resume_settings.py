"""A resume never silently changes the run: settings left out come from the checkpoint
(said in one line), settings given differently are refused in one line naming both."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import xpnet
from xpnet.backend import index_dtype
from xpnet.errors import CheckpointError, ResumeWarning


def problem(backend, n=80, d=6, c=3):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, c, n)
    x = rng.normal(size=(n, d)) + np.eye(c, d)[labels] * 2
    return (
        xpnet.asarray(x, dtype="float32"),
        xpnet.asarray(labels, dtype=index_dtype(backend.xp, backend.device)),
    )


def net():
    return xpnet.TwoLayerNet(6, 5, 3, weight_init_std=0.5, seed=0)


RUN = dict(batch_size=10, eval_every=10, seed=1, verbose=0, compile=False)


@pytest.mark.reliability("data integrity")
def test_a_setting_left_out_is_taken_from_the_checkpoint(backend, tmp_path) -> None:
    data, path = problem(backend), tmp_path / "c.npz"
    whole = xpnet.train(net(), data, iters=40, weight_decay=1e-3, **RUN)
    xpnet.train(net(), data, iters=20, weight_decay=1e-3, checkpoint=path, **RUN)
    with pytest.warns(ResumeWarning, match=r"resuming with the checkpoint's weight_decay=0.001"):
        resumed = xpnet.train(net(), data, iters=40, checkpoint=path, resume=True, **RUN)
    assert resumed.train_loss == whole.train_loss
    assert resumed.config["weight_decay"] == 1e-3


@pytest.mark.reliability("data integrity")
@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"weight_decay": 0.5}, r"different settings \(weight_decay: 0.001 -> 0.5\)"),
        ({"weight_decay": 0.0}, r"different settings \(weight_decay: 0.001 -> 0.0\)"),
        ({"batch_size": 20}, r"batch_size: 10 -> 20"),
    ],
)
def test_a_setting_given_differently_is_refused_in_one_line(backend, tmp_path, given, message):
    data, path = problem(backend), tmp_path / "c.npz"
    xpnet.train(net(), data, iters=20, weight_decay=1e-3, checkpoint=path, **RUN)
    with pytest.raises(CheckpointError, match=message) as info:
        xpnet.train(net(), data, iters=40, checkpoint=path, resume=True, **{**RUN, **given})
    assert "\n" not in str(info.value)


@pytest.mark.reliability("data integrity")
def test_another_optimizer_is_one_short_line_and_a_left_out_one_is_taken(backend, tmp_path):
    data, path = problem(backend), tmp_path / "c.npz"
    xpnet.train(net(), data, iters=20, optimizer="adam", lr=0.01, checkpoint=path, **RUN)
    with pytest.raises(CheckpointError, match=r"trained with .*Adam.*not .*SGD") as info:
        xpnet.train(net(), data, iters=40, optimizer="sgd", checkpoint=path, resume=True, **RUN)
    assert len(str(info.value)) < 300 and "optim." not in str(info.value)
    whole = xpnet.train(net(), data, iters=40, optimizer="adam", lr=0.01, **RUN)
    with pytest.warns(ResumeWarning, match="optimizer=Adam"):
        resumed = xpnet.train(net(), data, iters=40, checkpoint=path, resume=True, **RUN)
    assert resumed.train_loss == whole.train_loss


@pytest.mark.mnist
@pytest.mark.reliability("data integrity")
def test_the_command_line_says_what_it_took(backend, mnist_dir, tmp_path, capsys) -> None:
    """`--resume` without `--weight-decay` continues with the checkpoint's, saying so."""
    from xpnet.cli import main

    device = ["--device", os.environ["XPNET_DEVICE"]] if os.environ.get("XPNET_DEVICE") else []
    common = ["train", "--backend", backend.name, *device, "--data-dir", str(mnist_dir),
              "--hidden", "8", "--eval-every", "20", "--eval-samples", "100", "--quiet",
              "--no-compile", "--checkpoint", str(tmp_path / "c.npz")]  # fmt: skip
    assert main([*common, "--iters", "20", "--weight-decay", "1e-4"]) == 0
    capsys.readouterr()
    summary = tmp_path / "s.json"
    assert main([*common, "--iters", "40", "--resume", "--json", str(summary)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resuming with the checkpoint's weight_decay=0.0001" in err[0]
    assert err[0].startswith("xpnet: warning:")
    assert json.loads(summary.read_text())["weight_decay"] == 1e-4


@pytest.mark.reliability("data integrity")
def test_evaluation_samples_and_precision_are_settings_of_the_run(backend, tmp_path) -> None:
    data, path = problem(backend), tmp_path / "c.npz"
    shaped = dict(eval_samples=30, precision="high")
    whole = xpnet.train(net(), data, iters=40, **shaped, **RUN)
    xpnet.train(net(), data, iters=20, checkpoint=path, **shaped, **RUN)
    with pytest.warns(ResumeWarning, match=r"eval_samples=30, precision='high'"):
        resumed = xpnet.train(net(), data, iters=40, checkpoint=path, resume=True, **RUN)
    assert resumed.train_acc == whole.train_acc
    assert resumed.config["eval_samples"] == 30
    with pytest.raises(CheckpointError, match=r"\(eval_samples: 30 -> 40\)"):
        xpnet.train(net(), data, iters=40, checkpoint=path, resume=True, eval_samples=40, **RUN)

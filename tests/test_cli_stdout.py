"""Shell conventions: `--json -` and `--plot -` write to standard output, the rest to stderr."""

from __future__ import annotations

import json
import os
import shlex
import sys

import pytest
from helpers import run_bounded

import xpnet
from xpnet.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def short_run(backend, mnist_dir) -> list[str]:
    device = os.environ.get("XPNET_DEVICE", "cpu")
    return ["train", "--backend", backend.name, "--device", device, "--iters", "20",
            "--eval-every", "10", "--data-dir", str(mnist_dir)]  # fmt: skip


@pytest.mark.backend_independent
def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"xpnet {xpnet.__version__}\n"


@pytest.mark.mnist
def test_json_dash_puts_only_the_summary_on_stdout(backend, mnist_dir, capsys) -> None:
    assert main([*short_run(backend, mnist_dir), "--json", "-"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)  # nothing but the JSON document
    assert summary["backend"] == backend.name and summary["iters"] == 20
    assert 0.0 <= summary["test_acc"] <= 1.0 and len(summary["test_acc_history"]) == 3
    lines = err.splitlines()  # the human lines moved to stderr
    assert [line.startswith("train acc, test acc | ") for line in lines] == [True] * 3 + [False]
    assert lines[3].startswith(f"test acc {summary['test_acc']:.4f}")


@pytest.mark.mnist
def test_plot_dash_writes_a_png_to_stdout(backend, mnist_dir, tmp_path, capsysbinary) -> None:
    summary = tmp_path / "summary.json"
    assert main([*short_run(backend, mnist_dir), "--plot", "-", "--json", str(summary)]) == 0
    out, err = capsysbinary.readouterr()
    assert out.startswith(PNG) and len(out) > 10_000
    assert b"train acc, test acc | " in err and json.loads(summary.read_text())["iters"] == 20


@pytest.mark.backend_independent
@pytest.mark.mnist
def test_the_summary_pipes_into_another_program(mnist_dir) -> None:
    """`xpnet train --json - --quiet | python -c "...json.load(sys.stdin)['test_acc']"`."""
    python = shlex.quote(sys.executable)
    reader = "import json,sys; print(json.load(sys.stdin)['test_acc'])"
    command = (
        f"{python} -m xpnet train --json - --quiet --iters 20 --data-dir {shlex.quote(str(mnist_dir))}"
        f" | {python} -c {shlex.quote(reader)}"
    )
    result = run_bounded(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 0.0 <= float(result.stdout) <= 1.0 and result.stderr == ""


@pytest.mark.backend_independent
@pytest.mark.reliability("bad input")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json", "-", "--plot", "-"], "--json - and --plot - both name standard output"),
        (["--checkpoint", "-"], "--checkpoint needs a file to lock and resume from"),
        (["--plot", "-"], "--plot - writes a PNG to standard output, which is a terminal"),
    ],
)
def test_standard_output_misuse_is_refused(argv, message, capsys, monkeypatch) -> None:
    """Two outputs on stdout, a checkpoint on stdout, a PNG on a terminal: one line, status 2."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["train", "--iters", "1", "--data-dir", "/nonexistent", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("xpnet: error: ") and message in err


def test_gradcheck_json_dash_writes_the_report_to_stdout(
    backend, capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a file named "-" would land here
    argv = ["gradcheck", "--backend", backend.name, "--json", "-"]
    argv += ["--device", os.environ["XPNET_DEVICE"]] if os.environ.get("XPNET_DEVICE") else []
    assert main(argv) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["backend"] == backend.name and report["passed"] is True
    assert err.startswith("gradcheck of TwoLayerNet(") and not (tmp_path / "-").exists()


@pytest.mark.backend_independent
def test_sweep_report_json_dash_writes_the_runs_to_stdout(capsys, tmp_path, monkeypatch) -> None:
    np = pytest.importorskip("numpy")
    from xpnet.sweep import sweep

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, size=60)
    x = (rng.normal(0.0, 0.6, size=(60, 6)) + np.eye(3, 6)[t]).astype(np.float32)
    sweep({"lr": [0.5, 1.0]}, train_data=(x, t), store="s.db", client="serial", verbose=0,
          backend="numpy", iters=10, batch_size=10)  # fmt: skip
    assert main(["sweep", "report", "--store", "s.db", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert len(data["runs"]) == 2 and data["ranking"][0] in {r["key"] for r in data["runs"]}
    assert err.startswith("2 runs in s.db: 2 done") and not (tmp_path / "-").exists()

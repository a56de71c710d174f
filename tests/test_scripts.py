"""Repository scripts: the GPU check, run here with the CPU standing in for the GPU.

A GPU run may be the only one, so what can be checked without a GPU is
checked here: the script skips in one line without a GPU, installs the bundle
of wheels with no package index, and its preflight reports the machine and
fails in one line on what is missing, writing its results where it is told.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
#: What the bundle installs (scripts/gpu_bundle.sh), by module.
BUNDLED = ("array_api_compat", "array_api_extra", "array_api_strict", "pooch", "platformdirs",
           "tqdm", "requests")  # fmt: skip


def gpu_check(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """scripts/gpu_check.sh with this test's Python first on PATH (it runs `python3`)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": path, **env}, timeout=timeout,
    )  # fmt: skip


@pytest.mark.backend_independent
def test_gpu_check_skips_without_a_gpu() -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: scripts/gpu_check.sh would run for real")
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert (
        result.stdout.strip()
        == "gpu_check: skipped: no NVIDIA GPU on this machine (nvidia-smi finds none)."
    )


@pytest.mark.backend_independent
def test_gpu_check_keeps_its_promises() -> None:
    """Within 4 minutes, SIGINT before KILL, no -x, JAX leaves GPU memory to the others."""
    text = SCRIPT.read_text()
    limits = {
        name: int(value)
        for name, value in re.findall(r"LIMIT_(\w+)=\$\{XPNET_GPU_LIMIT_\w+:-(\d+)\}", text)
    }
    assert set(limits) == {"PACKAGING", "PREFLIGHT", "BENCH", "TESTS"}
    assert sum(limits.values()) <= 4 * 60 - 20  # and 20 s for starting and writing
    assert "timeout -s INT -k 10" in text and "export XLA_PYTHON_CLIENT_PREALLOCATE=false" in text
    pytest_lines = [line for line in text.splitlines() if "-m pytest" in line]
    assert pytest_lines and not any(re.search(r"\s-x\b", line) for line in pytest_lines)
    assert "--junitxml" in text and "XPNET_REQUIRE_BACKEND=1" in text


@pytest.mark.backend_independent
def test_the_bundle_installs_without_an_index(tmp_path) -> None:
    """The packaging section installs every bundled wheel offline; they come first on the path."""
    wheels = sorted((ROOT / ".whl").glob("*.whl"))
    if not wheels:
        pytest.skip("no bundle in .whl/: scripts/gpu_bundle.sh makes it (needs the package index)")
    site, out = tmp_path / "site", tmp_path / "out"
    result = gpu_check(
        "--cpu", "--only", "packaging",
        env={"XPNET_GPU_OUT": str(out), "XPNET_GPU_SITE": str(site), "XPNET_GPU_INSTALL_ALL": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gpu_check: packaging: installed into" in result.stdout
    code = (
        "import importlib, json, sys; "
        "print(json.dumps([importlib.import_module(m).__file__ for m in sys.argv[1:]]))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code, *BUNDLED], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert all(path.startswith(str(site)) for path in json.loads(found.stdout))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sections"]["packaging"]["status"] == "ok"


@pytest.mark.mnist
def test_the_preflight_reports_the_machine(backend, mnist_dir, tmp_path) -> None:
    """In seconds: versions, devices, one product on the device, and preflight.json."""
    if backend.name not in ("torch", "jax"):
        pytest.skip("the CPU preflight checks PyTorch and JAX: runs in their sessions")
    out = tmp_path / "out"
    env = {
        "XPNET_GPU_OUT": str(out),
        "XPNET_DATA": str(mnist_dir),
        "XPNET_GPU_BACKENDS": backend.name,
    }
    result = gpu_check("--cpu", "--only", "preflight", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("gpu_check: mode cpu, results in " + str(out))
    assert any(line.startswith(f"gpu_check: {backend.name} sees ") for line in lines)
    report = json.loads((out / "preflight.json").read_text())
    assert report["mode"] == "cpu" and report["mnist"] == str(mnist_dir)
    assert report["backends"][backend.name]["precision"] in ("highest", "default")
    assert set(report["bundled"]) == set(BUNDLED)
    assert sorted(p.name for p in out.iterdir()) == [
        "gpu_check.log",
        "preflight.json",
        "summary.json",
    ]


@pytest.mark.backend_independent
def test_the_preflight_fails_in_one_line_without_mnist(tmp_path) -> None:
    out = tmp_path / "out"
    env = {
        "XPNET_GPU_OUT": str(out),
        "XPNET_DATA": str(tmp_path / "none"),
        "XPNET_GPU_BACKENDS": "",
    }
    result = gpu_check("--cpu", "--only", "preflight", env=env)
    assert result.returncode == 1  # and stops: "nothing after the preflight can work"
    assert (
        result.stdout.splitlines()[-1]
        == "gpu_check: stopping: nothing after the preflight can work"
    )
    failed = [line for line in result.stdout.splitlines() if "preflight failed" in line]
    assert len(failed) == 1 and "MNIST is missing" in failed[0]
    assert json.loads((out / "preflight.json").read_text())["failed"].startswith("MNIST is missing")
    assert json.loads((out / "summary.json").read_text())["sections"]["preflight"]["status"] == (
        "failed"
    )


@pytest.mark.backend_independent
@pytest.mark.mnist
def test_a_backend_that_cannot_run_fails_the_check_but_not_the_rest(mnist_dir, tmp_path):
    """One line for the broken backend; the check goes on (a first run brings back what it can)."""
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here: it would run")
    out = tmp_path / "out"
    env = {"XPNET_GPU_OUT": str(out), "XPNET_DATA": str(mnist_dir), "XPNET_GPU_BACKENDS": "cupy"}
    result = gpu_check("--cpu", "--only", "preflight", env=env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failed = [line for line in lines if "preflight failed" in line]
    assert len(failed) == 1
    assert failed[0].startswith("gpu_check: preflight failed: backend 'cupy' does not import: ")
    assert "failed" in json.loads((out / "preflight.json").read_text())["backends"]["cupy"]
    assert lines[-1].startswith("gpu_check: done in ") and "FAILED" in lines[-1]

"""Repository scripts: the GPU check skips cleanly on a machine without a GPU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

pytestmark = pytest.mark.backend_independent


def test_gpu_check_skips_without_a_gpu() -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: scripts/gpu_check.sh would run for real")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert (
        result.stdout.strip()
        == "gpu_check: skipped: no NVIDIA GPU on this machine (nvidia-smi finds none)."
    )

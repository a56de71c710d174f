"""Ctrl-C at any moment of a command's start ends in one line and status 130 (issue 22, item 5).

* while the `xpnet` command imports the package itself (NumPy and the rest), through its real
  entry points: the console script and `python -m xpnet`;
* while a backend library is imported, and while it first starts its devices (JAX's native
  start-up): the signal is held back and acted on afterwards;
* inside a garbage-collector callback (JAX registers one), where Python would print
  "Exception ignored" and carry on.

Each case runs the command in a child process. The SIGINT is sent when the child reaches a
given point: by the child itself at that point, or by this process on reading the marker line
the child prints there; never after a sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import sigint_reaches_children

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("XPNET_BACKEND", "numpy") not in ("", "numpy", "jax"),
        reason="the command's start is tested in the NumPy and JAX sessions",
    ),
    pytest.mark.usefixtures("backend"),
]
ONE_LINE = "xpnet: interrupted.\n"

#: A sitecustomize that interrupts the process when module TARGET is first looked for.
SITE = """
import os, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("XPNET_TEST_INTERRUPT_AT"):
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
"""


def command(how: str) -> list[str]:
    if how == "python -m xpnet":
        return [sys.executable, "-m", "xpnet"]
    script = shutil.which("xpnet", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the `xpnet` console script is not installed next to this Python")
    return [script]


@pytest.mark.reliability("signals")
@pytest.mark.parametrize("how", ["xpnet", "python -m xpnet"])
@pytest.mark.parametrize("module", ["numpy", "array_api_compat", "xpnet.backend", "xpnet.cli"])
def test_ctrl_c_while_the_command_imports_the_package(tmp_path, how, module) -> None:
    """Ctrl-C while the console script or `python -m xpnet` imports xpnet itself: one line, 130."""
    (tmp_path / "sitecustomize.py").write_text(SITE)
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "XPNET_TEST_INTERRUPT_AT": module}
    with sigint_reaches_children():
        result = subprocess.run([*command(how), "info"], env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
    assert (result.returncode, result.stderr) == (130, ONE_LINE)


#: The child: the command line run as `xpnet`, printing a marker (and flushing) at the points
#: the parent waits for, or interrupting itself at one.
CHILD = textwrap.dedent(
    """
    import gc, os, runpy, signal, sys
    at, how = sys.argv[1], sys.argv[2]
    sys.argv = ["xpnet", *sys.argv[3:]]

    def reached():
        if how == "marker":
            print(f"reached {at}", flush=True)
        else:
            os.kill(os.getpid(), signal.SIGINT)

    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name == at:
                sys.meta_path.remove(self)
                reached()
            return None

    if at == "devices":  # JAX's first native start-up: when it makes its first devices
        import jax
        from jax._src import xla_bridge
        start = xla_bridge.backends
        def backends(*args, **kwargs):
            if not xla_bridge._backends:
                reached()
            return start(*args, **kwargs)
        xla_bridge.backends = backends
    elif at == "gc":  # a garbage-collector callback, once the command runs
        def callback(phase, info):
            if phase == "start" and "xpnet.cli" in sys.modules and not fired:
                fired.append(1)
                reached()
                sum(range(1000))  # Python code, where the handler runs: still in the callback
        fired = []
        gc.callbacks.append(callback)
        gc.set_threshold(50)
    else:
        sys.meta_path.insert(0, Watch())
    runpy.run_module("xpnet", run_name="__main__", alter_sys=True)
    """
)


def run_child(at: str, how: str, *argv: str) -> subprocess.CompletedProcess:
    """The command `argv` in a child, interrupted at `at` (by itself, or here on its marker)."""
    with sigint_reaches_children():
        proc = subprocess.Popen([sys.executable, "-c", CHILD, at, how, *argv], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    if how == "marker":
        for line in proc.stdout:
            if line == f"reached {at}\n":
                proc.send_signal(signal.SIGINT)
                break
    out, err = proc.communicate(timeout=180)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


GRADCHECK = ("gradcheck", "--backend", "jax", "--hidden", "3", "--batch-size", "2")


@pytest.mark.reliability("signals")
@pytest.mark.parametrize(
    ("at", "how"),
    [
        ("jax", "marker"),
        ("jaxlib._jax", "marker"),
        ("jaxlib._hlo", "self"),  # imported by jaxlib's native module as it starts
        ("jax._src.xla_bridge", "marker"),
        ("jax._src.api", "marker"),
        ("devices", "marker"),
        ("devices", "self"),
    ],
)
def test_ctrl_c_while_jax_imports_and_starts_is_one_line(at, how) -> None:
    """Ctrl-C while JAX is imported or first starts its devices: held back, then one line, 130
    (not a crash in native code, not "not installed", not a run that goes on)."""
    pytest.importorskip("jax")
    result = run_child(at, how, *GRADCHECK)
    assert (result.returncode, result.stderr) == (130, ONE_LINE), result.stderr[-2000:]
    assert "gradcheck of" not in result.stdout


@pytest.mark.reliability("signals")
@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_ctrl_c_inside_a_garbage_collector_callback_is_not_lost(backend) -> None:
    """A KeyboardInterrupt raised in a gc callback (as in JAX's _xla_gc_callback): Python would
    print "Exception ignored" and go on; the command stops in one line with 130."""
    if backend == "jax":
        pytest.importorskip("jax")
    result = run_child("gc", "self", "gradcheck", "--backend", backend, "--hidden", "3")
    assert (result.returncode, result.stderr) == (130, ONE_LINE), result.stderr[-2000:]

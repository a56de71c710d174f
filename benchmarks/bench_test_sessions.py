"""How long the test sessions take: wall-clock and CPU time, load, counts, slowest tests.

Runs each nox session in turn (``nox -s NAME``, so the sum is what ``nox`` takes)
and writes one JSON record to ``benchmarks/results/``: the date, the machine,
the load averages around each session (this machine is shared), the pytest
summary (passed, failed, skipped, deselected) and the slowest tests of each.

    python benchmarks/bench_test_sessions.py                  # every default session
    python benchmarks/bench_test_sessions.py tests-jax docs   # some of them
    python benchmarks/bench_test_sessions.py --stress 4 tests-numpy
        # with `stress-ng --cpu 4` running beside it (apt-get install stress-ng)

CPU time is the session's processes' user + system time (``RUSAGE_CHILDREN``):
unlike wall-clock time, it hardly changes when other programs share the
machine, so it says what a session costs on a quiet machine too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
SUMMARY = re.compile(r"^=+ (.*\b(?:passed|failed|skipped|deselected|error)\b.*) in ([\d.]+)s")
DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)")


def machine() -> dict[str, object]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else ""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class LoadSampler(threading.Thread):
    """The 1-minute load average every 10 s, while a session runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(10.0):
            self.samples.append(os.getloadavg()[0])


def parse(output: str) -> dict[str, object]:
    """The pytest summaries (one per pytest run in the session) and the slowest tests."""
    runs, slowest = [], []
    for line in output.splitlines():
        line = line.strip()
        if m := SUMMARY.match(line):
            counts = {k: int(v) for v, k in re.findall(r"(\d+) (\w+)", m.group(1))}
            runs.append({"counts": counts, "pytest_seconds": float(m.group(2))})
        elif m := DURATION.match(line):
            slowest.append([float(m.group(1)), m.group(2), m.group(3)])
    slowest.sort(reverse=True)
    return {"pytest_runs": runs, "slowest": slowest[:25]}


def run_session(name: str, log_dir: Path) -> dict[str, object]:
    venv_existed = any((ROOT / ".nox").glob(re.sub(r"\W", "-", name) + "*"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    sampler = LoadSampler()
    sampler.start()
    started = time.monotonic()
    done = subprocess.run(
        ["nox", "-s", name], cwd=ROOT, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    sampler.done.set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = done.stdout + done.stderr
    safe = re.sub(r"[^\w.-]", "_", name)
    log = log_dir / f"{safe}.log"
    log.write_text(output)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "session": name,
        "status": done.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "load_mean": round(sum(sampler.samples) / len(sampler.samples), 2)
        if sampler.samples
        else None,
        "venv_existed": venv_existed,
        **parse(output),
    }


def default_sessions() -> list[str]:
    """What `nox` runs: the sessions `nox -l` marks with '*', in its order."""
    listed = subprocess.run(["nox", "-l"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line[2:].split(" -> ")[0] for line in listed.stdout.splitlines() if line[:2] == "* "]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", nargs="*", help="nox sessions (default: every default one)")
    parser.add_argument("--stress", type=int, default=0, help="run stress-ng --cpu N beside")
    parser.add_argument("--name", default="test-sessions", help="the record's file name part")
    args = parser.parse_args()
    sessions = args.sessions or default_sessions()
    stamp = datetime.datetime.now().strftime("%Y-%m-%d")
    log_dir = ROOT / "build" / "bench-test-sessions"
    log_dir.mkdir(parents=True, exist_ok=True)
    stress = None
    if args.stress:
        if shutil.which("stress-ng") is None:
            sys.exit("stress-ng not found: apt-get install stress-ng")
        stress = subprocess.Popen(
            ["stress-ng", "--cpu", str(args.stress), "--quiet"], start_new_session=True
        )
    record: dict[str, object] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "stress": f"stress-ng --cpu {args.stress}" if args.stress else None,
        "environment": {
            k: v for k, v in os.environ.items() if k.startswith(("XPNET_", "JAX_", "NOX"))
        },
        "sessions": [],
    }
    try:
        for name in sessions:
            result = run_session(name, log_dir)
            record["sessions"].append(result)  # type: ignore[attr-defined]
            print(
                f"{name}: status {result['status']}, {result['wall_s']} s wall, "
                f"{result['cpu_s']} s CPU, load {result['load_mean']}",
                flush=True,
            )
    finally:
        if stress is not None:
            os.killpg(stress.pid, signal.SIGTERM)
            stress.wait()
    total = record["sessions"]  # type: ignore[assignment]
    record["total_wall_s"] = round(sum(s["wall_s"] for s in total), 1)  # type: ignore[index]
    record["total_cpu_s"] = round(sum(s["cpu_s"] for s in total), 1)  # type: ignore[index]
    path = OUT / f"{stamp}-{args.name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path}")
    return 0 if all(s["status"] == 0 for s in total) else 1  # type: ignore[index]


if __name__ == "__main__":
    sys.exit(main())

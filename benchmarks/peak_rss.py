"""Run a command; print its wall time and its own peak memory as JSON on the last line.

    python benchmarks/peak_rss.py COMMAND [ARGS...]

A child forked from a large process inherits that process's resident pages
until it execs, and the kernel counts them in the child's maximum RSS. This
small process forks the command instead, so the figure is the command's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

if __name__ == "__main__":
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(
        json.dumps(
            {
                "wall_s": time.perf_counter() - start,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "returncode": code,
            }
        )
    )
    sys.exit(code)

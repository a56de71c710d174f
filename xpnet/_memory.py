"""How much memory there is, and a check that refuses sizes that cannot fit.

Sizes that cannot fit (a network with a billion hidden units, a file that
declares a terabyte array) are refused before anything is allocated, with
the bytes they need and the bytes available, instead of a ``MemoryError``
halfway through or the operating system's out-of-memory killer.

Host memory is read portably: on Linux ``MemAvailable`` from
``/proc/meminfo`` (free memory plus what the kernel can reclaim from its
caches), bounded by the cgroup limit of a container (Docker, Slurm); else
``os.sysconf`` (``SC_AVPHYS_PAGES``, or ``SC_PHYS_PAGES`` where only the total
is known). Where the system says nothing, nothing is refused.

Examples
--------
>>> format_bytes(3_180_000_040)
'3,180,000,040 bytes (3.2 GB)'
>>> check_fits(10, 100, "a small array", "on this machine")
>>> try:
...     check_fits(10**15, 10**9, "A network", "on this machine")
... except ValueError as err:
...     print(err)
A network needs 1,000,000,000,000,000 bytes (1.0 PB), more than the 1,000,000,000 bytes (1.0 GB) of memory available on this machine.
"""  # noqa: E501

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import XpnetValueError

__all__ = ["check_fits", "format_bytes", "host_memory"]

_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(n: int) -> str:
    """``n`` exactly, and in the largest decimal unit (kB = 1000 bytes) for reading."""
    value, unit = float(n), 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value, unit = value / 1000, unit + 1
    return f"{n:,} bytes" if unit == 0 else f"{n:,} bytes ({value:.1f} {_UNITS[unit]})"


def _meminfo_available() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _sysconf_available() -> int | None:
    for name in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        with contextlib.suppress(ValueError, OSError, AttributeError):
            pages, size = os.sysconf(name), os.sysconf("SC_PAGE_SIZE")
            if pages > 0 and size > 0:
                return pages * size
    return None


def _cgroup_available() -> int | None:
    """What a container's memory limit leaves (cgroup v2, else v1), None without a limit."""
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        with contextlib.suppress(OSError, ValueError):
            text = Path(limit).read_text().strip()
            if text == "max" or int(text) >= 1 << 60:  # no limit (v1 says "huge")
                return None
            return max(int(text) - int(Path(usage).read_text().strip()), 0)
    return None


def host_memory() -> int | None:
    """Bytes of host memory this process can still take, or None when the system does not say."""
    found = [m for m in (_meminfo_available() or _sysconf_available(), _cgroup_available()) if m]
    return min(found) if found else None


def check_fits(
    needed: int,
    available: int | None,
    what: str,
    where: str,
    *,
    hint: str = "",
    error: type = XpnetValueError,
) -> None:
    """Raise `error` when `needed` bytes exceed `available` (None: unknown, never refused).

    The message reads "`what` needs N bytes, more than the M bytes of memory
    available `where`[; `hint`]."
    """
    if available is not None and needed > available:
        raise error(
            f"{what} needs {format_bytes(needed)}, more than the {format_bytes(available)} "
            f"of memory available {where}{'; ' + hint if hint else ''}."
        )

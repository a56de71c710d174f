"""Who marked a run ``running``: a host, a process id and the process's start time.

A process id alone is not an identity: once a sweep's client dies, the
operating system gives its number to some other process, and a store whose
rows name that number would look busy forever. So a client is written as
``host:pid:start``, where `start` is when the process started (the kernel's
clock ticks since boot on Linux, else psutil's creation time): a live
process with that number but another start time is not the client.

On another host nothing can be checked from here: such rows are left alone
unless the caller steals them (``xpnet sweep --steal``).

Examples
--------
>>> client = me()
>>> state(client)
'mine'
>>> state("another-host.example:1:5")
'unknown'
"""

from __future__ import annotations

import contextlib
import os
import socket

__all__ = ["me", "parse", "start_time", "state"]


def start_time(pid: int) -> str | None:
    """When process `pid` started: a token that differs between two processes; None if unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat", "rb") as file:
            # the command name (field 2) may hold spaces and parentheses: split after it
            fields = file.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # field 22, starttime, in clock ticks since boot
    try:
        import psutil
    except ImportError:
        return None
    with contextlib.suppress(Exception):  # psutil.NoSuchProcess, AccessDenied...
        return f"{psutil.Process(pid).create_time():.3f}"
    return None


def me() -> str:
    """This process as a client: ``host:pid:start`` (``host:pid`` where the start is unknown)."""
    pid = os.getpid()
    start = start_time(pid)
    return f"{socket.gethostname()}:{pid}" + ("" if start is None else f":{start}")


def parse(client: str) -> tuple[str, int | None, str | None]:
    """``host:pid:start`` (or ``host:pid``, xpnet 0.2) -> (host, pid, start); pid None if absent."""
    host, _, tail = client.rpartition(":")
    if host and ":" in host:
        first, _, pid = host.rpartition(":")
        if pid.isdigit():
            return first, int(pid), tail
    return (host, int(tail), None) if tail.isdigit() else (client, None, None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state(client: object) -> str:
    """``"mine"``, ``"alive"`` (another live client here), ``"dead"``, or ``"unknown"``.

    "unknown": another host, or a row of xpnet 0.2 (no start time) whose
    process number is in use again, which may or may not be the client.
    """
    if not isinstance(client, str):
        return "unknown"
    if client == me():
        return "mine"
    host, pid, start = parse(client)
    if host != socket.gethostname() or pid is None:
        return "unknown"
    if pid == os.getpid() or not _alive(pid):  # this process is not its own client: an earlier one
        return "dead"
    if start is None:
        return "unknown"
    return "alive" if start_time(pid) == start else "dead"

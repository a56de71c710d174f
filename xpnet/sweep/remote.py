"""An existing Dask cluster: reaching its scheduler, waiting for its workers, keeping Dask quiet.

* A scheduler is named by its address (``tcp://host:8786``) or by the file
  ``dask scheduler --scheduler-file F`` writes. The file is read here first,
  so that a missing file, or one that is not such a file, is one clear
  error, not Dask's parse of its name as an address or its own traceback.
* A scheduler without workers would take the runs and never run them: the
  sweep says so at once (``notify``) and waits for a worker up to `timeout`
  seconds, then stops with a :class:`~xpnet.errors.ClusterError`.
* Dask logs what it sees (a lost scheduler, workers stopped by Ctrl-C) with
  tracebacks; the sweep reports what matters in one line, so Dask's own log
  records are shown only with ``XPNET_DEBUG=1`` (``xpnet --debug``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ClusterError, NotInstalledError, XpnetValueError

__all__ = ["connect", "debugging", "distributed_module", "quiet_dask", "scheduler_address",
           "silence_dask", "wait_for_workers"]  # fmt: skip

#: The loggers of Dask and of what it runs on, which report its own troubles.
DASK_LOGGERS = ("distributed", "dask", "tornado", "asyncio")


def debugging() -> bool:
    """Whether the user asked for tracebacks and Dask's logs (``XPNET_DEBUG=1``, ``--debug``)."""
    return os.environ.get("XPNET_DEBUG", "") not in ("", "0")


def distributed_module() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise NotInstalledError(
            f"Sweeps on a cluster need Dask distributed, which is not installed ({exc}). "
            "Install it with: pip install 'xpnet[distributed]', or pass client='serial'."
        ) from exc
    return distributed


def _dask_loggers() -> list[logging.Logger]:
    """Dask's loggers and their children (Dask sets some children's levels of its own)."""
    known = list(logging.root.manager.loggerDict)
    names = [n for n in known if n.split(".")[0] in DASK_LOGGERS]
    return [logging.getLogger(name) for name in sorted({*DASK_LOGGERS, *names})]


def silence_dask() -> None:
    """Dask's log records off in this process for good, unless debugging (the command line's).

    Dask's client goes on logging for a moment after it is closed (a lost
    scheduler's reconnection, cancelled at close), so a process that is about
    to end turns them off for good rather than for a block.
    """
    if debugging():
        return
    with contextlib.suppress(ImportError):  # Dask configures its loggers when imported: first
        import distributed  # noqa: F401
    for lg in _dask_loggers():
        lg.setLevel(logging.CRITICAL + 1)


@contextlib.contextmanager
def quiet_dask() -> Iterator[None]:
    """Dask's log records off while the block runs, unless debugging; restored afterwards."""
    if debugging():
        yield
        return
    loggers = _dask_loggers()
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.setLevel(level)


def _is_file(spec: str) -> bool:
    return spec.endswith(".json") or ("://" not in spec and os.path.isfile(spec))


def scheduler_address(spec: str) -> str:
    """`spec` itself, or the address in the scheduler file `spec` names.

    Raises
    ------
    ClusterError
        For a scheduler file that does not exist, cannot be read, or is not one.
    """
    if not _is_file(spec):
        return spec
    try:
        text = Path(spec).read_text()
    except FileNotFoundError:
        raise ClusterError(
            f"Scheduler file {spec!r} does not exist; `dask scheduler --scheduler-file "
            f"{spec}` writes it, or give the scheduler's address (tcp://host:8786)."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterError(f"Scheduler file {spec!r} cannot be read: {exc}.") from None
    try:
        info = json.loads(text)
    except ValueError as exc:
        raise ClusterError(
            f"{spec!r} is not a Dask scheduler file: not JSON ({str(exc)[:80]}); "
            f"`dask scheduler --scheduler-file {spec}` writes one."
        ) from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or not address:
        raise ClusterError(f"{spec!r} is not a Dask scheduler file: it names no address.")
    return address


def connect(spec: str, timeout: float) -> Any:
    """A ``distributed.Client`` of the scheduler at `spec` (an address or a scheduler file)."""
    distributed = distributed_module()
    address = scheduler_address(spec)
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"No Dask scheduler answered at {address!r} within {timeout:g} s ({exc}). "
            "Start one with `dask scheduler` and workers with `dask worker ADDRESS`."
        ) from None
    except (ValueError, TypeError) as exc:
        raise XpnetValueError(
            f"`client` must be a scheduler address such as 'tcp://host:8786', a scheduler "
            f"file, 'serial', None or a distributed.Client. Received: {spec!r} ({exc})."
        ) from None


def wait_for_workers(client: Any, timeout: float, notify: Callable[[str], None]) -> None:
    """Return once the cluster has a worker; say so at once when it has none, wait `timeout` s.

    Raises
    ------
    ClusterError
        When no worker joined within `timeout` seconds.
    """
    if client.scheduler_info().get("workers"):
        return
    address = client.scheduler.address
    notify(f"the scheduler at {address} has no workers; waiting up to {timeout:g} s for one")
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ClusterError(
            f"The Dask scheduler at {address} has no workers: none joined within {timeout:g} s. "
            f"Start some with `dask worker {address}`, or wait longer (--timeout, timeout=)."
        ) from None

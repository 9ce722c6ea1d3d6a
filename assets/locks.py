"""One Turnout writer per warehouse file at a time, and patience with other processes' DuckDB locks.

How assets.warehouse.Warehouse keeps its one-writer rule; nothing else calls this module.

Two guards, taken in this order by everything that writes the warehouse (`turnout run`,
`turnout demo`, and each writing Dagster step, so runs started by `dagster dev` behave
the same):

1. The run lock: `flock` on `<warehouse>.lock` beside the file. A second Turnout
   process waits for the first, saying once which process holds it. The kernel drops
   the lock when its holder exits, however it exits. Within one process the lock is
   re-entrant: the steps of a run executed in process share the run's lock.
2. DuckDB's own file lock: an analyst with the warehouse open (even read-only) keeps
   every other process from opening it for writing. Before writing, Turnout opens the
   file for writing; while that is refused, it waits, saying once which process holds
   the file. A vendor's load keeps that connection open while dlt runs (`kept_open`),
   so nobody can slip in before dlt's load; dbt, a process of its own, opens the file
   a moment after the check.

Both waits share one deadline, `TURNOUT_LOCK_TIMEOUT` seconds (0: do not wait).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from assets.settings import env_number

if TYPE_CHECKING:
    import dagster as dg

LOCK_TIMEOUT_ENV = "TURNOUT_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_SECONDS = 3600.0
POLL_SECONDS = 0.5
LOCK_SUFFIX = ".lock"
# What DuckDB says when another process holds the file, and the holder it names.
DUCKDB_LOCK_CONFLICT = "Could not set lock on file"
DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

Say = Callable[[str], None]

# Run locks this process holds: warehouse lock file -> [descriptor, depth].
_held: dict[Path, list[int]] = {}
_held_guard = threading.Lock()


class WarehouseBusy(RuntimeError):
    """Another process kept the warehouse for longer than the lock timeout allows."""


def lock_timeout() -> float:
    """Seconds to wait for a busy warehouse ($TURNOUT_LOCK_TIMEOUT, default an hour; 0: do not wait)."""
    seconds = env_number(LOCK_TIMEOUT_ENV, lambda value: value >= 0, "a number of seconds, 0 or more")
    return DEFAULT_LOCK_TIMEOUT_SECONDS if seconds is None else seconds


def step_holder(context: dg.AssetExecutionContext) -> str:
    """How a Dagster step that writes the warehouse names itself to those who wait for it."""
    return f"Dagster step {context.op_def.name} of run {context.run.run_id[:8]}"


def lock_file(warehouse: Path) -> Path:
    # Resolved, so one file named two ways is one lock (and one entry in _held).
    warehouse = Path(warehouse).expanduser().resolve()
    return warehouse.with_name(warehouse.name + LOCK_SUFFIX)


@contextlib.contextmanager
def exclusive_warehouse(
    warehouse: Path, say: Say, holder: str = "a Turnout load", timeout: float | None = None,
    file_lock: bool = True,
) -> Iterator[None]:
    """Holds the run lock and, for a DuckDB file (`file_lock`), waits until DuckDB would let
    this process write it.

    `say` gets one line when a wait starts and one when it ends; `holder` says what
    this process is doing, for others who have to wait. Raises WarehouseBusy when
    the wait would outlast the timeout.
    """
    limit = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + limit
    with _run_lock(warehouse, holder, deadline, limit, say):
        if file_lock:
            wait_until_writable(warehouse, deadline, limit, say)
        yield


@contextlib.contextmanager
def kept_open(warehouse: Path, say: Say, timeout: float | None = None) -> Iterator[None]:
    """Waits like exclusive_warehouse, then keeps the file open for writing until the block ends.

    Meanwhile no other process can open it, while this process still can, with the same
    settings (DuckDB shares one database among a process's connections): a read-only
    connection here would be refused for the block's length.
    """
    limit = lock_timeout() if timeout is None else timeout
    connection = wait_until_writable(warehouse, time.monotonic() + limit, limit, say, keep_open=True)
    try:
        yield
    finally:
        if connection is not None:
            connection.close()


@contextlib.contextmanager
def _run_lock(warehouse: Path, holder: str, deadline: float, limit: float, say: Say) -> Iterator[None]:
    path = lock_file(warehouse)
    with _held_guard:
        entry = _held.get(path)
        if entry is not None:
            entry[1] += 1
    if entry is None:
        # Taken outside the guard: a wait here must not stop this process releasing other locks.
        fd = _acquire(path, warehouse, holder, deadline, limit, say)
        with _held_guard:
            _held[path] = [fd, 1]
    try:
        yield
    finally:
        with _held_guard:
            _held[path][1] -= 1
            if _held[path][1] == 0:
                _release(_held.pop(path)[0])


def _acquire(path: Path, warehouse: Path, holder: str, deadline: float, limit: float, say: Say) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    started, announced = time.monotonic(), False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                other = f"another Turnout load holds it ({_holder_of(path)})"
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(_busy(warehouse, other, limit)) from None
                if not announced:
                    say(_waiting(warehouse, other, limit))
                    announced = True
                time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    except BaseException:
        os.close(fd)
        raise
    # Whoever waits next reads who holds the lock from the file itself.
    since = dt.datetime.now(dt.UTC)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"PID {os.getpid()}, {holder}, since {since:%Y-%m-%d %H:%M:%S} UTC\n".encode(), 0)
    if announced:
        say(f"{warehouse}: the other Turnout load finished; waited {time.monotonic() - started:.1f} s")
    return fd


def _release(fd: int) -> None:
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _holder_of(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return text or "holder not yet recorded"


def wait_until_writable(
    warehouse: Path, deadline: float, limit: float, say: Say, keep_open: bool = False
) -> duckdb.DuckDBPyConnection | None:
    """Returns once DuckDB lets this process write the warehouse: with keep_open, with the
    connection that proved it, so nobody else can open the file until it is closed."""
    started, announced = time.monotonic(), False
    while True:
        connection, holder = open_for_writing(warehouse, create=keep_open)
        if holder is None:
            break
        other = f"another process has it open ({holder})"
        if time.monotonic() >= deadline:
            raise WarehouseBusy(_busy(warehouse, other, limit))
        if not announced:
            say(_waiting(warehouse, other, limit) + "; DuckDB lets no one write while it is open")
            announced = True
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    if announced:
        say(f"{warehouse}: the other process closed it; waited {time.monotonic() - started:.1f} s")
    if connection is not None and not keep_open:
        connection.close()
        connection = None
    return connection


def open_for_writing(warehouse: Path, create: bool = False) -> tuple[duckdb.DuckDBPyConnection | None, str | None]:
    """(connection, None) when DuckDB lets this process write the file, else (None, the process
    DuckDB names as holding it). A missing file is free; it is created only when asked."""
    if not create and not warehouse.exists():
        return None, None
    try:
        return duckdb.connect(str(warehouse)), None
    except duckdb.Error as refused:
        # Anything but another process holding the file: the writer meets the same problem
        # and reports it in its own words.
        return None, lock_holder_in(str(refused))


def lock_holder_in(message: str) -> str | None:
    """The process DuckDB names in a lock conflict somewhere in message, None when there is none."""
    if DUCKDB_LOCK_CONFLICT not in message:
        return None
    match = DUCKDB_HOLDER.search(message)
    return f"PID {match['pid']}, {match['program']}" if match else "holder not named"


def _waiting(warehouse: Path, other: str, limit: float) -> str:
    return f"Waiting for {warehouse}: {other}; waiting up to {limit:.0f} s ({LOCK_TIMEOUT_ENV})"


def _busy(warehouse: Path, other: str, limit: float) -> str:
    gave_up = "not waiting" if limit <= 0 else f"gave up after {limit:.0f} s"
    return (f"{warehouse} is busy: {other}; {gave_up} ({LOCK_TIMEOUT_ENV}={limit:g}). "
            "Try again once it is free.")

"""Runs that a killed `turnout run` left behind, and the warehouse pool slot they hold.

`turnout run` (and `turnout demo`) executes the daily job in its own process. When
that process is killed (SIGKILL, out of memory, power loss), Dagster's run storage
keeps the run as STARTED, and the slot its running step claimed in the
`turnout_warehouse` pool (limit 1) stays claimed: Dagster frees a slot when the step
ends, or, through its daemon, some time after the run ends, and a run whose process
is gone never ends. Every later run's warehouse steps would wait for that slot forever.

So each run the runner starts carries a tag naming the process that executes it, and
before the next run, runs whose process is gone are marked failed and their slots
freed. Runs without the tag (launched by `dagster dev`'s daemon into a process of
their own) are left to Dagster.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg

PROCESS_TAG = "turnout/process"  # "<host>:<pid>:<process start>", see this_process()
# A run in any of these may still hold a pool slot.
NOT_FINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUSPENDED,
    dg.DagsterRunStatus.CANCELING,
]


def this_process() -> str:
    """This process, named so that a later process can tell whether it still runs."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_of(pid) or ''}"


def release_abandoned_runs(instance: dg.DagsterInstance, say: Callable[[str], None]) -> list[str]:
    """Marks failed the unfinished runs whose executing process is gone, and frees their pool slots.

    Returns their run ids; `say` gets one line for each.
    """
    released = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=NOT_FINISHED)):
        run = record.dagster_run
        process = run.tags.get(PROCESS_TAG)
        if process is None or _running(process):
            continue
        pid = process.split(":")[1]
        instance.report_run_failed(
            run, f"The process executing this run (PID {pid}) ended without finishing it; "
                 "a later run marked it failed and freed its warehouse slot.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"run {run.run_id[:8]} was left unfinished by a process that ended (PID {pid}): "
            "marked failed, its warehouse slot freed")
        released.append(run.run_id)
    return released


def _running(process: str) -> bool:
    host, _, rest = process.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's process: this one cannot tell
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    # A PID is reused once its process is gone: a different start time means another process.
    now = _start_of(pid)
    return not (started and now and now != started)


def _start_of(pid: int) -> str | None:
    """When a process started, in clock ticks since boot (Linux's /proc); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces), from field 3 on; field 22 is starttime.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None

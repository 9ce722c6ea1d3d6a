"""Runs left unfinished by a process that died: marked failed, their warehouse slot freed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import dagster as dg

from assets.recovery import PROCESS_TAG, release_abandoned_runs, this_process
from assets.settings import WAREHOUSE_POOL


def _started_run(instance: dg.DagsterInstance, process: str | None, step_key: str) -> str:
    run_id = str(uuid.uuid4())
    tags = {PROCESS_TAG: process} if process is not None else {}
    instance.add_run(dg.DagsterRun(job_name="daily_load", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags))
    instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, run_id, step_key)
    return run_id


def _dead_process() -> str:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return f"{socket.gethostname()}:{int(child.stdout)}:"


def test_only_runs_whose_process_is_gone_are_failed_and_release_their_slot(instance):
    instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 3)
    dead = _started_run(instance, _dead_process(), "load_opus")
    alive = _started_run(instance, this_process(), "load_brp")
    # A PID that lives again, in another process (another start time), is not the run's process.
    reused = _started_run(instance, f"{socket.gethostname()}:{os.getpid()}:1", "load_icareus")
    said: list[str] = []

    released = release_abandoned_runs(instance, said.append)

    assert sorted(released) == sorted([dead, reused])
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(reused).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
    claimed = {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots}
    assert claimed == {alive}
    assert len(said) == 2 and all("marked failed" in line for line in said)


def test_runs_without_the_tag_are_left_to_dagster(instance):
    instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
    launched = _started_run(instance, None, "load_opus")

    assert release_abandoned_runs(instance, print) == []
    assert instance.get_run_by_id(launched).status == dg.DagsterRunStatus.STARTED

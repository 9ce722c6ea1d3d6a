"""Two loads at once, an analyst holding the warehouse open, a holder killed: real processes.

Each `turnout run` here is its own process, as a user or a cron job starts it,
loading OPUS DX from a sandbox on loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from assets.locks import LOCK_TIMEOUT_ENV, WarehouseBusy, exclusive_warehouse, lock_file
from assets.runner import run_daily_load
from pipelines.opus import VENDOR as OPUS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUN_SECONDS = 600  # one small OPUS load took 30-160 s on two CPUs, idle to very busy
# Starting Python and importing Dagster took 8-16 s; a run told not to wait does little more.
NOT_WAITING_SECONDS = 30.0
ANALYST_HOLDS_SECONDS = 3.0
# How soon after the analyst closes the warehouse the run notices: it polls every 0.5 s.
NOTICED_WITHIN_SECONDS = 5.0
WAITED_FOR_RUN = re.compile(r"the other Turnout load finished; waited (\d+\.\d) s")
WAITED_FOR_ANALYST = re.compile(r"the other process closed it; waited (\d+\.\d) s")
HOLDER = """\
import sys, time
from pathlib import Path
from assets.locks import exclusive_warehouse
with exclusive_warehouse(Path(sys.argv[1]), say=print, holder="a load about to be killed"):
    print("holding", flush=True)
    time.sleep(600)
"""
ANALYST = """\
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
sys.stdin.readline()
con.close()
print("closed", flush=True)
"""

pytestmark = pytest.mark.reliability


class Process:
    """A child process whose output lines are kept as they arrive, with the time each came."""

    def __init__(self, args: list[str], env: dict[str, str], stdin: bool = False) -> None:
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self.popen = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT,
            env={**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "250"},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for(self, text: str, timeout: float) -> float:
        """When a line containing text arrived (monotonic clock); fails after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrived, line in list(self.lines):
                if text in line:
                    return arrived
            if self.popen.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no line with {text!r} within {timeout:.0f} s; output:\n{self.output}")

    def finish(self, timeout: float = RUN_SECONDS) -> int:
        code = self.popen.wait(timeout)
        self._reader.join(10)
        self.elapsed = time.monotonic() - self.started
        return code

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


def turnout_run(warehouse: Path, **extra_env: str) -> Process:
    return Process([sys.executable, "-m", "assets.cli", "run", "--warehouse", str(warehouse)],
                   {**os.environ, **extra_env})


def row_counts(warehouse: Path) -> dict[str, int]:
    """Rows per raw and mart table; dlt's own bookkeeping tables (one row per load) left out."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (?, 'marts') and table_name not like '\\_dlt\\_%' escape '\\'",
            [OPUS.dataset],
        ).fetchall()
        return {f"{schema}.{table}": con.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
                for schema, table in tables}


def waited(pattern: re.Pattern[str], output: str) -> float:
    match = pattern.search(output)
    assert match, output
    return float(match[1])


@pytest.mark.e2e
def test_two_runs_at_once_one_waits_and_the_warehouse_holds_one_load(
    opus_configured, warehouse, tmp_path, reliability
):
    reliability.trial(
        area="Concurrency",
        injected="two `turnout run` processes started at the same moment on one warehouse "
                 "(a third, on its own warehouse, as the reference)",
        how_often="once",
        checked="both exit 0; exactly one says it waited for the other and names its PID; the warehouse "
                "opens and every raw and mart table holds the rows of a single run",
    )
    reference_warehouse = tmp_path / "reference" / "turnout.duckdb"
    runs = [turnout_run(warehouse), turnout_run(warehouse), turnout_run(reference_warehouse)]
    try:
        codes = [run.finish() for run in runs]
    finally:
        for run in runs:
            run.stop()

    pair = runs[:2]
    assert codes == [0, 0, 0], "\n\n".join(run.output for run in runs)
    waiters = [run for run in pair if "Waiting for" in run.output]
    assert len(waiters) == 1, "\n\n".join(run.output for run in pair)
    [waiter] = waiters
    [holder] = [run for run in pair if run is not waiter]
    assert f"another Turnout load holds it (PID {holder.popen.pid}, turnout run" in waiter.output
    seconds = waited(WAITED_FOR_RUN, waiter.output)
    reliability.measured(f"first run {holder.elapsed:.0f} s; the second waited {seconds:.1f} s for it, "
                         f"then ran, {waiter.elapsed:.0f} s in all")
    counts = row_counts(warehouse)
    assert counts == row_counts(reference_warehouse)
    assert counts[f"{OPUS.dataset}.events"] > 0 and counts["marts.fct_registrations"] > 0


@pytest.mark.e2e
def test_a_run_told_not_to_wait_exits_at_once_and_the_first_succeeds(opus_configured, warehouse, reliability):
    reliability.trial(
        area="Concurrency",
        injected=f"a second `turnout run` with {LOCK_TIMEOUT_ENV}=0 while the first is loading",
        how_often="once",
        checked="the second exits 3 at once, saying the warehouse is busy and which process holds it; "
                "the first exits 0 and its data is there",
    )
    first = turnout_run(warehouse)
    try:
        holding = _wait_until_holding(warehouse, first)
        second = turnout_run(warehouse, **{LOCK_TIMEOUT_ENV: "0"})
        second_code = second.finish(timeout=120)
        first_still_running = first.popen.poll() is None
        first_code = first.finish()
    finally:
        first.stop()

    reliability.measured(f"second exited after {second.elapsed:.1f} s (process start included); "
                         f"first finished {first.elapsed:.0f} s after it started")
    assert second_code == 3, second.output
    flat = " ".join(second.output.split())
    assert f"{warehouse} is busy: another Turnout load holds it (PID {first.popen.pid}, turnout run" in flat
    assert f"not waiting ({LOCK_TIMEOUT_ENV}=0)" in flat
    assert second.elapsed < NOT_WAITING_SECONDS
    assert first_still_running, f"the first run ended before the second was refused ({holding=})"
    assert first_code == 0, first.output
    assert row_counts(warehouse)[f"{OPUS.dataset}.events"] > 0


def _wait_until_holding(warehouse: Path, run: Process, timeout: float = 120) -> float:
    """Seconds until the run's PID is recorded in the warehouse's lock file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lock = lock_file(warehouse)
        if lock.exists() and lock.read_text().startswith(f"PID {run.popen.pid},"):
            return time.monotonic() - run.started
        assert run.popen.poll() is None, run.output
        time.sleep(0.1)
    raise AssertionError(f"the run never took the lock; output:\n{run.output}")


@pytest.mark.e2e
def test_a_run_waits_for_an_analyst_holding_the_warehouse_read_only(opus_configured, warehouse, reliability):
    reliability.trial(
        area="Concurrency",
        injected="an analyst process holds the warehouse open read-only when `turnout run` starts, "
                 f"and closes it {ANALYST_HOLDS_SECONDS:.0f} s after the run says it is waiting",
        how_often="once",
        checked="the run says it is waiting, naming the warehouse and the analyst's PID; it goes on "
                f"within {NOTICED_WITHIN_SECONDS:.0f} s of the close, exits 0 and the data is there",
    )
    warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(warehouse)).close()  # an existing warehouse, as an analyst would find it
    analyst = Process([sys.executable, "-c", ANALYST, str(warehouse)], dict(os.environ), stdin=True)
    run = None
    try:
        analyst.wait_for("open", timeout=60)
        run = turnout_run(warehouse)
        said_waiting = run.wait_for("Waiting for", timeout=120)
        time.sleep(ANALYST_HOLDS_SECONDS)
        analyst.popen.stdin.write("close\n")
        analyst.popen.stdin.flush()
        closed = analyst.wait_for("closed", timeout=30)
        went_on = run.wait_for("the other process closed it", timeout=60)
        code = run.finish()
    finally:
        for process in (analyst, run):
            if process is not None:
                process.stop()

    seconds = waited(WAITED_FOR_ANALYST, run.output)
    reliability.measured(f"run waited {seconds:.1f} s, went on {went_on - closed:.1f} s after the analyst "
                         f"closed, {run.elapsed:.0f} s in all")
    flat = " ".join(run.output.split())
    assert f"Waiting for {warehouse}: another process has it open (PID {analyst.popen.pid}," in flat
    assert code == 0, run.output
    assert ANALYST_HOLDS_SECONDS <= seconds and said_waiting < closed < went_on
    assert went_on - closed < NOTICED_WITHIN_SECONDS
    counts = row_counts(warehouse)
    assert counts[f"{OPUS.dataset}.events"] > 0 and counts["marts.fct_registrations"] > 0


@pytest.mark.e2e
def test_an_analyst_who_slips_in_after_the_check_fails_the_step_cleanly(
    opus_configured, warehouse, instance, monkeypatch, reliability
):
    reliability.trial(
        area="Concurrency",
        injected="an analyst opens the warehouse read-only between Turnout's check that it is free "
                 "and dlt opening it (the check made to miss them)",
        how_often="once",
        checked="the load fails with DuckDB's lock error, naming the holder and saying what to do; "
                "once the analyst closes, the next run succeeds and the warehouse is whole",
    )
    warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(warehouse)).close()
    analyst = Process([sys.executable, "-c", ANALYST, str(warehouse)], dict(os.environ), stdin=True)
    try:
        analyst.wait_for("open", timeout=60)
        with monkeypatch.context() as patch:
            patch.setattr("assets.locks.open_for_writing", lambda _warehouse, create=False: (None, None))
            started = time.monotonic()
            refused = run_daily_load(warehouse, instance=instance)
            refused_seconds = time.monotonic() - started
    finally:
        analyst.popen.stdin.write("close\n")
        analyst.popen.stdin.flush()
        analyst.finish(timeout=30)

    failure = " ".join(refused.failures)
    assert not refused.ok
    assert f"DuckDB refused to open the warehouse: another process has it open (PID {analyst.popen.pid}," in failure
    assert "run again once that process has closed it" in failure

    again = run_daily_load(warehouse, instance=instance)

    reliability.measured(f"refused run failed after {refused_seconds:.1f} s; the next run succeeded")
    assert again.ok, (again.failures, again.checks_failed)
    counts = row_counts(warehouse)
    assert counts[f"{OPUS.dataset}.events"] > 0 and counts["marts.fct_registrations"] > 0


def test_a_killed_holder_leaves_the_warehouse_free(warehouse, reliability):
    reliability.trial(
        area="Concurrency",
        injected="a process holding the warehouse lock is killed (SIGKILL), as a crashed or "
                 "OOM-killed run would be",
        how_often="once",
        checked="while it lives, a run told not to wait is refused naming its PID; once it is "
                "killed, the lock is free at once",
    )
    holder = Process([sys.executable, "-c", HOLDER, str(warehouse)], dict(os.environ))
    try:
        holder.wait_for("holding", timeout=60)
        with pytest.raises(WarehouseBusy, match=f"PID {holder.popen.pid}, a load about to be killed"):
            with exclusive_warehouse(warehouse, say=print, timeout=0):
                pass
        holder.popen.kill()
        holder.finish(timeout=30)
        started = time.monotonic()
        with exclusive_warehouse(warehouse, say=print, timeout=0):
            free_after = time.monotonic() - started
    finally:
        holder.stop()

    reliability.measured(f"the lock was free {free_after * 1000:.0f} ms after the holder died")

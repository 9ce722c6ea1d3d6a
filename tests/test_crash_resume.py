"""Crash and resume: `turnout run` killed with SIGKILL while a vendor is extracted,
normalised and loaded; the next `turnout run` must finish and leave the warehouse
equal to one from a run that was never interrupted.

Every run here is its own process, `python -m assets.cli run --as-of <day>`: the
daily job executed in process through Dagster, dagster-dlt, dlt and dbt, as the
schedule runs it, against all four vendor sandboxes on loopback (seed 7 from
SANDBOX_START). It is killed, with SIGKILL to its whole process group, while OPUS
DX, the vendor with the most tables (nested lists, registrations and attendance
versioned per event), is in the intended phase. The phase is told from outside:

* extraction: the OPUS sandbox kills the run while it answers the run's
  KILL_AT_REQUEST-th OPUS request, so the run is waiting on the API;
* normalisation: dlt's working folder for the pipeline
  (`pipelines_dir(warehouse)/turnout_opus`) holds the load package in `load/new/`
  with some load files written, where normalize writes before it renames the
  package to `load/normalized/`;
* load: the package in `load/normalized/` has merge jobs (`*.sql`: the statement
  that writes a `raw_opus` table from dlt's staging dataset, one transaction per
  table) done in `completed_jobs` for at least half of its tables, and jobs still
  waiting or running.

The folder is read again once the run is dead; a kill that missed the phase (the
run had moved on) is tried again on a fresh warehouse, never counted. After the
kill the warehouse must open (read-only, as analysts and the dashboard open it)
and every table must read; then the next run must exit 0 and every raw, staging
and mart table must equal the uninterrupted run's, row for row
(tests/warehouse_compare.py): the reference load's (tests/reference.py), the same
sandboxes and business dates loaded by the daily job without a kill.

The trials are independent processes on warehouses of their own, so they run at
the same time (each with sandboxes of its own), which keeps the file to a few
minutes; each test waits for its own trial and reports it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets.ingest import pipeline_name
from assets.settings import PROJECT_ROOT, pipelines_dir
from pipelines.opus import VENDOR as OPUS
from pipelines.registry import VENDORS
from sandboxes.registry import sandbox_for
from sandboxes.server import CONTROL_PREFIX, SandboxResponse, SandboxServer
from tests.conftest import SANDBOX_START
from tests.reference import SEED, ReferenceLoads
from tests.warehouse_compare import Comparison, compare_warehouses

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

VICTIM = OPUS
DAY_ZERO = SANDBOX_START.isoformat()
# A first small OPUS load makes about 100 requests; the kill comes well inside them.
KILL_AT_REQUEST = 40
POLL_SECONDS = 0.002
RUN_SECONDS = 600  # a whole run takes 45-100 s on two CPUs, longer with the other trials beside it
ATTEMPTS = 3
TRIALS_AT_ONCE = 4  # all of them
JOB_FOLDERS = ("new_jobs", "started_jobs", "completed_jobs", "failed_jobs")
EXTRACT, NORMALIZE, LOAD = "extraction", "normalisation", "load"
NEXT_DAY_LOAD = "load of the next day"
CHECKED = ("the killed run's warehouse opens read-only and every table reads; the next `turnout run` "
           "(same --as-of) exits 0; every raw, staging and mart table equals {reference}, row for row "
           "(load ids and dlt's row ids aside)")
HOW_OFTEN = "one kill per trial, in the phase named; a kill that missed it is retried on a fresh warehouse"


# --- runs as processes ---------------------------------------------------------------

_live: list[TurnoutRun] = []
_stopping = threading.Event()  # set when the module's trials are torn down: no new runs


class TurnoutRun:
    """`turnout run` in its own process group, its output kept in a file beside the warehouse."""

    def __init__(self, warehouse: Path, env: Mapping[str, str], as_of: str, named: bool = True) -> None:
        """`named`: the run is told the warehouse with --warehouse; else it finds it in `env`
        (TURNOUT_WAREHOUSE), and `warehouse` only says where its output goes."""
        if _stopping.is_set():
            raise RuntimeError("the trials are being torn down")
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        self.log = warehouse.parent / f"turnout-run-{time.monotonic_ns()}.out"
        self.started = time.monotonic()
        self.seconds = 0.0
        where = ["--warehouse", str(warehouse)] if named else []
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "assets.cli", "run", *where, "--as-of", as_of],
                cwd=PROJECT_ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        _live.append(self)

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to every process of the run (dbt's included), all at once."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = RUN_SECONDS) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.popen.wait()
            raise AssertionError(f"turnout run still running after {timeout:.0f} s:\n{self.output[-3000:]}") from None
        self.seconds = time.monotonic() - self.started
        return code

    def succeed(self) -> float:
        code = self.wait()
        assert code == 0, f"turnout run exited {code}:\n{self.output[-4000:]}"
        return self.seconds


def run_environment(servers: Sequence[SandboxServer], scratch: Path) -> dict[str, str]:
    """This process's environment without any Turnout or vendor settings, plus the sandboxes'."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SOURCES__", "TURNOUT_", "DAGSTER_HOME"))}
    env.update(DLT_DATA_DIR=str(scratch / "dlt_data"), RUNTIME__DLTHUB_TELEMETRY="false", COLUMNS="200")
    for server in servers:
        env.update(server.app.settings(server.base_url))
    return env


# --- sandboxes -----------------------------------------------------------------------


class KillSwitchServer(SandboxServer):
    """A sandbox that can kill a run's process group while it answers that run's n-th request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = threading.Lock()
        self._served = 0
        self._armed: tuple[TurnoutRun, int] | None = None
        self.fired = threading.Event()
        self.fired_at = 0

    def arm(self, run: TurnoutRun, at_request: int) -> None:
        with self._guard:
            self._served = 0
            self.fired.clear()
            self._armed = (run, at_request)

    def disarm(self) -> None:
        with self._guard:
            self._armed = None

    def respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        response = super().respond(method, target, headers, body)
        if not target.startswith(CONTROL_PREFIX):
            with self._guard:
                self._served += 1
                if self._armed is not None and self._served >= self._armed[1]:
                    run, self._armed = self._armed[0], None
                    run.kill()  # before the answer goes out: the run is waiting for it
                    self.fired_at = self._served
                    self.fired.set()
        return response


def serve_all(stack: ExitStack, victim_server: type[SandboxServer] = SandboxServer) -> list[SandboxServer]:
    """The four vendor sandboxes, seed 7 from SANDBOX_START, the victim's on victim_server."""
    return [
        stack.enter_context((victim_server if vendor is VICTIM else SandboxServer)(
            sandbox_for(vendor.name)(seed=SEED, scale="small", start_date=SANDBOX_START)))
        for vendor in VENDORS
    ]


def victim_of(servers: Sequence[SandboxServer]) -> Any:
    return servers[list(VENDORS).index(VICTIM)]


# --- where dlt is, seen from outside -------------------------------------------------


@dataclass(frozen=True)
class PackageState:
    """Where the victim's load package is in dlt's working folder.

    stage: "none"; "extract" (being written in normalize/<extract folder>/);
    "extracted" (in normalize/extracted/, not yet normalised); "normalize" (load/new/);
    "load" (load/normalized/); "loaded" (load/loaded/).
    """

    stage: str
    load_id: str | None = None
    files: int = 0  # job files written so far (normalize)
    jobs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # job folder -> files (load)

    def merges(self, folder: str) -> list[str]:
        return [job for job in self.jobs.get(folder, ()) if job.endswith(".sql")]

    @property
    def tables(self) -> set[str]:
        """The package's top-level data tables (a job file is `<table>.<file id>.<retry>.<format>`)."""
        names = {job.split(".")[0] for jobs in self.jobs.values() for job in jobs}
        return {name for name in names if "__" not in name and not name.startswith("_dlt")}

    @property
    def pending(self) -> int:
        return len(self.jobs.get("new_jobs", ())) + len(self.jobs.get("started_jobs", ()))

    def describe(self) -> str:
        if self.stage == "extract":
            return "dlt's package still being extracted (nothing normalised yet)"
        if self.stage == "normalize":
            return f"the extracted package being normalised ({_count(self.files, 'load file')} written so far)"
        if self.stage == "load":
            # dlt moves a job's file once its thread reports it done: the warehouse may be a little ahead.
            return (f"the package being loaded, by dlt's folder: {_count(len(self.jobs['completed_jobs']), 'job')} "
                    f"done, merges of {len(self.merges('completed_jobs'))} of its {len(self.tables)} tables among "
                    f"them, {_count(self.pending, 'job')} waiting or running")
        return f"dlt's package at {self.stage}"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def package_state(pipeline: Path) -> PackageState | None:
    """The furthest stage the newest package reached; None when dlt moved it while it was read."""
    try:
        load, normalize = pipeline / "load", pipeline / "normalize"
        for folder, stage in (("loaded", "loaded"), ("normalized", "load"), ("new", "normalize")):
            packages = _folders(load / folder)
            if packages:
                package = load / folder / packages[-1]
                jobs = {name: tuple(sorted(os.listdir(package / name))) for name in JOB_FOLDERS}
                return PackageState(stage, packages[-1], len(jobs["new_jobs"]), jobs if stage == "load" else {})
        packages = _folders(normalize / "extracted")
        if packages:
            return PackageState("extracted", packages[-1])
        for extract_folder in _folders(normalize):
            if extract_folder != "extracted" and (packages := _folders(normalize / extract_folder)):
                return PackageState("extract", packages[-1])
        return PackageState("none")
    except FileNotFoundError:
        return None


def _folders(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith("."))


def in_phase(phase: str, state: PackageState | None) -> bool:
    if state is None:
        return False
    if phase == EXTRACT:
        return state.stage == "extract"
    if phase == NORMALIZE:
        return state.stage == "normalize" and state.files > 0
    merged = len(state.merges("completed_jobs"))
    return state.stage == "load" and merged > 0 and 2 * merged >= len(state.tables) and state.pending > 0


# --- one trial: crash, look, resume, compare -----------------------------------------


@dataclass
class Crash:
    state: PackageState
    attempts: int
    after_seconds: float
    at_request: int | None = None  # the OPUS request being answered (extraction)

    def describe(self) -> str:
        at = f" while OPUS answered its request {self.at_request}" if self.at_request else ""
        retried = f" (attempt {self.attempts})" if self.attempts > 1 else ""
        return f"killed {self.after_seconds:.0f} s into the run{at}{retried}, {self.state.describe()}"


def crash_during(
    phase: str,
    warehouse: Path,
    env: Mapping[str, str],
    as_of: str,
    switch: KillSwitchServer,
    prepare: Callable[[Path], None] = lambda warehouse: None,
) -> Crash:
    """Starts `turnout run` on a fresh warehouse and kills it in the phase named, or fails saying why not."""
    folder = pipelines_dir(warehouse) / pipeline_name(VICTIM.name)
    misses = []
    for attempt in range(1, ATTEMPTS + 1):
        shutil.rmtree(warehouse.parent, ignore_errors=True)
        warehouse.parent.mkdir(parents=True)
        prepare(warehouse)
        run = TurnoutRun(warehouse, env, as_of)
        if phase == EXTRACT:
            switch.arm(run, KILL_AT_REQUEST)
            while run.running and not switch.fired.wait(0.1):
                pass
            switch.disarm()
        else:
            while run.running and not in_phase(phase, package_state(folder)):
                time.sleep(POLL_SECONDS)
        run.kill()
        code = run.wait()
        state = package_state(folder)
        if code == -signal.SIGKILL and in_phase(phase, state):
            return Crash(state, attempt, run.seconds, switch.fired_at if phase == EXTRACT else None)
        misses.append(f"attempt {attempt}: exit {code}, {state.describe() if state else 'package moving'}"
                      + (f"\n{run.output[-1500:]}" if code not in (0, -signal.SIGKILL) else ""))
    raise AssertionError(f"no run was killed during {phase} in {ATTEMPTS} attempts: {'; '.join(misses)}")


@dataclass
class AfterKill:
    tables: int
    rows: int
    killed_load_rows: dict[str, int]  # raw_opus table -> rows the killed load wrote there
    completed: bool  # whether _dlt_loads records the killed load


def open_after_kill(warehouse: Path, load_id: str) -> AfterKill:
    """Opens the warehouse the killed run left, read-only, and reads every table of it."""
    assert warehouse.exists(), f"{warehouse} is missing after the kill"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("pragma database_size").fetchone()[0] == warehouse.stem
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        rows, written = 0, {}
        for schema, table in tables:
            rows += con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            if schema == VICTIM.dataset and not table.startswith("_dlt_") and con.execute(
                "select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
                "and column_name = '_dlt_load_id'", [schema, table]).fetchone()[0]:
                count = con.execute(f'select count(*) from "{schema}"."{table}" where _dlt_load_id = ?',
                                    [load_id]).fetchone()[0]
                if count:
                    written[table] = count
        completed = (VICTIM.dataset, "_dlt_loads") in tables and con.execute(
            f'select count(*) from "{VICTIM.dataset}"._dlt_loads where load_id = ?', [load_id]).fetchone()[0] > 0
    return AfterKill(len(tables), rows, written, completed)


@dataclass
class Outcome:
    as_of: str
    crash: Crash
    after: AfterKill
    resumed_seconds: float
    comparison: Comparison

    def describe(self) -> str:
        written = self.after.killed_load_rows
        partial = (f", {sum(written.values()):,} of them written by the killed load, in "
                   f"{_count(len(written), 'raw_opus table')} ({', '.join(sorted(written))})" if written else
                   ", none of them from the killed OPUS load")
        return (f"as of {self.as_of}: {self.crash.describe()}; the warehouse opened ({self.after.tables} tables, "
                f"{self.after.rows:,} rows{partial}); the next run succeeded in {self.resumed_seconds:.0f} s; "
                f"{self.comparison.summary()}")


def crash_and_resume(
    phase: str,
    warehouse: Path,
    env: Mapping[str, str],
    as_of: str,
    switch: KillSwitchServer,
    reference: Path,
    prepare: Callable[[Path], None] = lambda warehouse: None,
) -> Outcome:
    crash = crash_during(phase, warehouse, env, as_of, switch, prepare)
    after = open_after_kill(warehouse, crash.state.load_id)
    assert not after.completed, "the killed load is recorded complete in _dlt_loads"
    if phase == LOAD:
        assert after.killed_load_rows, "the kill during load left no rows of the killed load: it came too early"
    else:
        assert not after.killed_load_rows, f"rows of a load killed during {phase}: {after.killed_load_rows}"
    resumed_seconds = TurnoutRun(warehouse, env, as_of).succeed()
    comparison = compare_warehouses(reference, warehouse)
    assert comparison.equal, comparison.report()
    return Outcome(as_of, crash, after, resumed_seconds, comparison)


def first_load_trial(phase: str, scratch: Path, reference: Path) -> Outcome:
    with ExitStack() as stack:
        servers = serve_all(stack, victim_server=KillSwitchServer)
        return crash_and_resume(phase, scratch / "warehouse" / "turnout.duckdb",
                                run_environment(servers, scratch), DAY_ZERO, victim_of(servers), reference)


def next_day_trial(scratch: Path, day_zero: Path, two_days: Path) -> Outcome:
    """Day 1 over a copy of the uninterrupted day 0, killed during load."""
    with ExitStack() as stack:
        servers = serve_all(stack, victim_server=KillSwitchServer)
        for server in servers:
            server.app.advance(1)
        as_of = servers[0].app.today.isoformat()

        def from_day_zero(warehouse: Path) -> None:
            shutil.copyfile(day_zero, warehouse)

        return crash_and_resume(LOAD, scratch / "warehouse" / "turnout.duckdb", run_environment(servers, scratch),
                                as_of, victim_of(servers), two_days, prepare=from_day_zero)


# --- the tests -----------------------------------------------------------------------

TRIALS = (EXTRACT, NORMALIZE, LOAD, NEXT_DAY_LOAD)


@pytest.fixture(scope="module")
def trials(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           reference: ReferenceLoads) -> Iterator[dict[str, Future]]:
    """Starts every trial this session selected, at once. The uninterrupted runs they are
    compared with are the reference load's first two days (tests/reference.py)."""
    wanted = [item.callspec.params["trial"] for item in request.session.items
              if getattr(item, "module", None) is sys.modules[__name__] and hasattr(item, "callspec")] or TRIALS
    day_zero, two_days = reference.day(0), reference.day(1)
    with ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=TRIALS_AT_ONCE, thread_name_prefix="trial"))
        futures = {}
        for trial in TRIALS:
            if trial in wanted:
                scratch = tmp_path_factory.mktemp(trial.replace(" ", "_"))
                futures[trial] = (pool.submit(next_day_trial, scratch, day_zero, two_days) if trial == NEXT_DAY_LOAD
                                  else pool.submit(first_load_trial, trial, scratch, day_zero))
        try:
            yield futures
        finally:
            _stopping.set()
            for future in futures.values():
                future.cancel()
            for run in _live:  # a failed trial may leave its runs behind: only ours, by process group
                if run.running:
                    run.kill()
                    run.popen.wait()


@pytest.mark.parametrize("trial", TRIALS)
def test_a_run_killed_with_sigkill_is_resumed_by_the_next_run_and_equals_an_uninterrupted_one(
    trial, trials, reliability
):
    if trial == NEXT_DAY_LOAD:
        injected = ("SIGKILL during load (OPUS DX, the incremental run of the next day over day 0: events "
                    "re-read, registrations and attendance versioned per event)")
        reference = "an uninterrupted two-day run's"
    else:
        injected = f"SIGKILL during {trial} (OPUS DX, first load; the three other vendors loaded before it)"
        reference = "an uninterrupted run's"
    reliability.trial(area="Crash and resume", injected=injected, how_often=HOW_OFTEN,
                      checked=CHECKED.format(reference=reference))
    outcome = trials[trial].result(timeout=3 * RUN_SECONDS * ATTEMPTS)
    reliability.measured(outcome.describe())

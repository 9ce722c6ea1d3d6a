"""The same project on a PostgreSQL warehouse: the reference load's days, loaded through the
daily job into a database of the tests' server (tests/postgres.py), then checked as the
DuckDB warehouse is, and compared with it mart by mart.

The reference load (tests/reference.py) is the DuckDB twin: the same sandboxes, seed,
business dates and days. Without a PostgreSQL server these tests skip, saying why; CI
never skips them.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from assets.ingest import pipeline_name
from assets.runner import MARTS, LoadOutcome, mart_rows, run_daily_load
from assets.warehouse import Warehouse, WarehouseUnreachable
from pipelines.registry import VENDORS
from sandboxes.faults import TRANSIENT_KINDS, FaultPlan
from tests import test_crash_resume as crash
from tests import test_faults_end_to_end as faults
from tests.postgres import Server
from tests.readback import event_log
from tests.reference import DAYS, LAST_DAY, SEED, ReferenceLoads, reference_sandboxes
from tests.secret_scan import Scan, forms
from tests.settings import isolate
from tests.warehouse_compare import compare_warehouses

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECONCILIATION_CHECKS = {"assert_events_reconcile_with_raw", "assert_registrations_reconcile_with_raw",
                         "assert_sessions_reconcile_with_raw"}
COMPARED_SCHEMAS = ("marts", "rejected")


@dataclass
class PostgresLoad:
    url: str  # with its password
    days: list[str]  # a copy of the database after each day, by day
    password: str
    outcomes: list[LoadOutcome]
    checks: dict[str, bool]  # check name -> passed, as of the last day
    events: str  # every Dagster event of the runs, as text
    root: Path  # what the runs wrote outside the project
    started: float


@pytest.fixture(scope="module")
def postgres_load(postgres_server: Server, tmp_path_factory: pytest.TempPathFactory,
                  reference: ReferenceLoads) -> Iterator[PostgresLoad]:
    url = postgres_server.create_database()
    root = tmp_path_factory.mktemp("postgres-load")
    started = time.time()
    outcomes, days = [], []
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
        isolate(patch, root)
        with reference_sandboxes(patch, reference.start) as servers:
            for day in range(DAYS):
                if day:
                    for server in servers:
                        server.app.advance(1)
                outcomes.append(run_daily_load(url, as_of=reference.as_of(day).isoformat(), instance=instance))
                days.append(postgres_server.copy_database(url, f"day{day}"))
        last_run = instance.get_runs()[0]
        checks = {}
        for entry in instance.all_logs(last_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.asset_check_evaluation_data
            checks[evaluation.check_name] = evaluation.passed
        events = event_log(instance)
    yield PostgresLoad(url, days, postgres_server.password, outcomes, checks, events, root, started)
    for database in (url, *days):
        postgres_server.drop_database(database)


def test_every_vendor_loads_for_every_day_and_every_check_passes(postgres_load, reference):
    for day, outcome in enumerate(postgres_load.outcomes):
        assert outcome.ok, (day, outcome.failures, outcome.checks_failed)
        assert sorted(outcome.loaded_vendors) == sorted(vendor.title for vendor in VENDORS)
    last = postgres_load.outcomes[-1]
    # turnout run's summary: every mart has rows, per vendor as many as in DuckDB.
    assert set(last.mart_rows) == set(MARTS)
    assert all(sum(counts.values()) > 0 for counts in last.mart_rows.values()), last.mart_rows
    with Warehouse.of(reference.day(LAST_DAY)).reading() as con:
        assert last.mart_rows == mart_rows(con)
    assert last.rejected == []
    # The reconciliation checks ran against the raw tables on the server, and held.
    assert RECONCILIATION_CHECKS <= set(postgres_load.checks), sorted(postgres_load.checks)
    assert all(postgres_load.checks[name] for name in RECONCILIATION_CHECKS)
    assert last.checks_passed == len(postgres_load.checks)


def test_every_mart_equals_the_duckdb_warehouse_of_the_same_load_row_for_row(postgres_load, reference):
    comparison = compare_warehouses(reference.day(LAST_DAY), postgres_load.url, schemas=COMPARED_SCHEMAS)
    assert comparison.tables, "no mart compared"
    assert {table.split(".")[1] for table in comparison.tables} >= set(MARTS)
    assert comparison.equal, comparison.report()


def test_the_password_reaches_nothing_the_runs_leave_behind(postgres_load):
    password = postgres_load.password
    assert password and password in postgres_load.url
    scan = Scan({f"the warehouse password ({form})": form for form in forms(password)})
    scan.text("the Dagster event log", postgres_load.events)
    scan.tree(postgres_load.root)
    # dbt's target folders and logs, and anything else the runs wrote in the project.
    scan.tree(PROJECT_ROOT, newer_than=postgres_load.started - 1, skip=(".venv", ".git"))
    with Warehouse.of(postgres_load.url).reading() as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_schema not in ('pg_catalog', 'information_schema')").fetchall()
        for schema, table in tables:
            scan.text(f"table {schema}.{table}",
                      "\n".join(map(repr, con.execute(f'select * from "{schema}"."{table}"').fetchall())))
    assert scan.files > 0 and len(tables) > 20
    assert not scan.findings, "the password leaked:\n" + "\n".join(str(f) for f in scan.findings[:20])


def test_the_resource_holds_the_url_without_its_password(postgres_url):
    warehouse = Warehouse.from_env(postgres_url)
    password = Warehouse.on_server(postgres_url)._secret()
    assert password and password not in warehouse.server and password not in str(warehouse)
    assert password not in repr(warehouse) and password not in repr(dict(warehouse.dbt_target()))
    with warehouse.reading() as con:
        assert con.execute("select current_setting('TimeZone'), 1 + ?", [1]).fetchone() == ("UTC", 2)


def test_a_wrong_password_fails_naming_the_server_and_not_the_password(postgres_url):
    password = urlsplit(postgres_url).password
    wrong_password = "not-the-Pa55word"
    with pytest.raises(WarehouseUnreachable) as refused:
        with Warehouse.on_server(postgres_url.replace(f":{password}@", f":{wrong_password}@")).reading():
            pass
    message = str(refused.value)
    assert "127.0.0.1" in message and "password authentication failed" in message, message
    assert wrong_password not in message and password not in message


def test_the_dashboard_reads_its_reports_from_the_server(postgres_load, reference):
    from assets import dashboard

    assert dashboard.unusable(postgres_load.url) is None
    on_server = dashboard.read_reports(postgres_load.url)
    in_file = dashboard.read_reports(reference.day(LAST_DAY))
    for frame in ("events", "daily_registrations", "sessions"):
        served, filed = getattr(on_server, frame), getattr(in_file, frame)
        assert len(served) == len(filed) > 0, frame
        assert list(served.columns) == list(filed.columns), frame
        assert list(served.dtypes) == list(filed.dtypes), (frame, served.dtypes, filed.dtypes)
    assert on_server.as_of == in_file.as_of
    page = dashboard.render_page(on_server)
    assert "Turnout" in page and "postgresql://" in page and postgres_load.password not in page


def _readme_dagster_yaml() -> str:
    """The dagster.yaml README shows for Dagster's storage on PostgreSQL, as written there."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    blocks = [block.split("```", 1)[0] for block in readme.split("```yaml\n")[1:]]
    [block] = [block for block in blocks if block.startswith("storage:\n  postgres:")]
    return block


def test_dagster_keeps_runs_events_and_schedules_on_postgres_as_readme_shows(
    postgres_server, opus_configured, tmp_path, monkeypatch
):
    storage = postgres_server.create_database("dagster")
    monkeypatch.setenv("TURNOUT_DAGSTER_POSTGRES_URL", storage.replace("postgresql://", "postgresql+psycopg2://", 1))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(_readme_dagster_yaml())
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            outcome = run_daily_load(tmp_path / "warehouse" / "turnout.duckdb", instance=instance)
            assert outcome.ok, (outcome.failures, outcome.checks_failed)
            [run] = instance.get_runs()
            assert run.is_success
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        with Warehouse.of(storage).reading() as con:
            [(runs,)] = con.execute("select count(*) from runs").fetchall()
            [(events,)] = con.execute("select count(*) from event_logs where run_id = ?", [run.run_id]).fetchall()
        assert runs == 1 and events > 50
    finally:
        postgres_server.drop_database(storage)


# --- crash and faults on the server ----------------------------------------------------


def _table_rows(url: str) -> dict[str, int]:
    """Rows of every table Turnout made, read on a read-only connection: the database reads."""
    with Warehouse.of(url).reading() as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_type = 'BASE TABLE' "
                             "and table_schema not in ('pg_catalog', 'information_schema')").fetchall()
        return {f"{schema}.{table}": con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                for schema, table in tables}


@pytest.mark.reliability
def test_a_run_killed_during_load_on_postgres_is_resumed_and_equals_an_uninterrupted_one(
    postgres_server, postgres_load, tmp_path, monkeypatch, reliability
):
    reliability.trial(
        area="Crash and resume",
        injected="SIGKILL during load into PostgreSQL (OPUS DX, first load; the three other vendors loaded "
                 "before it)",
        how_often=crash.HOW_OFTEN,
        checked="the killed run's database reads, table by table; the next `turnout run` exits 0; every raw, "
                "staging and mart table equals an uninterrupted PostgreSQL run's, row for row "
                "(load ids and dlt's row ids aside)",
    )
    local = tmp_path / "local"
    monkeypatch.setenv("TURNOUT_LOCAL_DIR", str(local))  # where the runs keep dlt's folder, seen from here
    misses, databases = [], []
    try:
        with ExitStack() as stack:
            servers = crash.serve_all(stack, victim_server=crash.KillSwitchServer)
            env = crash.run_environment(servers, tmp_path)
            env["TURNOUT_LOCAL_DIR"] = str(local)
            output = tmp_path / "runs" / "output"
            for attempt in range(1, crash.ATTEMPTS + 1):
                url = postgres_server.create_database()
                databases.append(url)
                env["TURNOUT_WAREHOUSE"] = url
                shutil.rmtree(local, ignore_errors=True)
                folder = Warehouse.on_server(url).dlt_working_dir() / pipeline_name(crash.VICTIM.name)
                run = crash.TurnoutRun(output, env, crash.DAY_ZERO, named=False)
                while run.running and not crash.in_phase(crash.LOAD, crash.package_state(folder)):
                    time.sleep(crash.POLL_SECONDS)
                run.kill()
                code = run.wait()
                state = crash.package_state(folder)
                if code == -signal.SIGKILL and crash.in_phase(crash.LOAD, state):
                    break
                misses.append(f"attempt {attempt}: exit {code}, {state.describe() if state else 'package moving'}")
            else:
                pytest.fail(f"no run was killed during load in {crash.ATTEMPTS} attempts: {'; '.join(misses)}")
            killed = crash.Crash(state, attempt, run.seconds)
            after = _table_rows(url)
            if f"{crash.VICTIM.dataset}._dlt_loads" in after:
                with Warehouse.of(url).reading() as con:
                    [(recorded,)] = con.execute(f"select count(*) from {crash.VICTIM.dataset}._dlt_loads "
                                                "where load_id = ?", [state.load_id]).fetchall()
                assert not recorded, "the killed load is recorded complete in _dlt_loads"
            resumed = crash.TurnoutRun(output, env, crash.DAY_ZERO, named=False).succeed()
        comparison = compare_warehouses(postgres_load.days[0], url)
        assert comparison.equal, comparison.report()
    finally:
        for database in databases:
            postgres_server.drop_database(database)
    reliability.measured(f"{killed.describe()}; the database read ({len(after)} tables, {sum(after.values()):,} "
                         f"rows); the next run succeeded in {resumed:.0f} s; {comparison.summary()}")


@pytest.mark.reliability
def test_with_ten_percent_transient_faults_over_three_days_postgres_equals_a_fault_free_load(
    postgres_server, postgres_load, monkeypatch, reliability
):
    reliability.trial(
        area="Transient faults",
        injected="the transient faults above, loading into PostgreSQL",
        how_often=f"{faults.FAULT_RATE:.0%} of all requests to all four vendors, {DAYS} simulated days",
        checked="every raw, staging and mart table equals a fault-free PostgreSQL load of the same seed, "
                "row for row",
    )
    url = postgres_server.create_database()
    plan = FaultPlan(rate=faults.FAULT_RATE, kinds=TRANSIENT_KINDS, seed=SEED, slow_seconds=faults.SLOW_SECONDS)
    try:
        with faults.sandboxes(monkeypatch, faults=plan) as servers:
            outcomes = faults.daily_loads(url, servers)
            requests = sum(server.faults.requests for server in servers)
            kinds = sum((Counter(server.faults.injected) for server in servers), Counter())
            injected = sum(kinds.values())
        assert all(outcome.ok for outcome in outcomes), [(o.failures, o.checks_failed) for o in outcomes]
        comparison = compare_warehouses(postgres_load.days[LAST_DAY], url)
        assert comparison.equal, comparison.report()
        assert set(kinds) == set(TRANSIENT_KINDS)  # every kind was met at least once
        assert 0.05 < injected / requests < 0.15
    finally:
        postgres_server.drop_database(url)
    reliability.measured(f"{injected} faults in {requests} requests; {comparison.summary()}")


def test_the_privacy_switch_hashes_emails_and_names_on_postgres(
    postgres_server, postgres_load, reference, instance, monkeypatch
):
    day_zero = postgres_load.days[0]
    people = "select person_key, email, first_name, last_name from marts.dim_people order by 1"
    with Warehouse.of(day_zero).reading() as con:
        plain = con.execute(people).fetchall()
    url = postgres_server.copy_database(day_zero, "private")
    try:
        monkeypatch.setenv("TURNOUT_HASH_PERSONAL_DATA", "true")
        with reference_sandboxes(monkeypatch, reference.start):
            outcome = run_daily_load(url, as_of=reference.as_of(0).isoformat(), instance=instance)
        assert outcome.ok, (outcome.failures, outcome.checks_failed)
        with Warehouse.of(url).reading() as con:
            hashed = con.execute(people).fetchall()
    finally:
        postgres_server.drop_database(url)

    def sha(value):
        return None if value is None else hashlib.sha256(f"turnout:{value}".encode()).hexdigest()

    assert plain and any(email for _, email, _, _ in plain)
    assert hashed == [(key, sha(email), sha(first), sha(last)) for key, email, first, last in plain]

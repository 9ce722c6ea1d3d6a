"""Runs the daily job in process, the way the schedule does, and reports what landed."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from assets.definitions import DAILY_JOB, RAW_PREFIX, build_definitions, daily_selection
from assets.failing_rows import failing_rows
from assets.ingest import SCHEMA_DRIFT
from assets.locks import Say
from assets.recovery import PROCESS_TAG, release_abandoned_runs, this_process
from assets.settings import AS_OF_TAG, dagster_home
from assets.transform import dbt_project, ensure_manifest
from assets.warehouse import Warehouse
from pipelines import settings
from pipelines.reachability import unreachable_settings
from pipelines.registry import VENDORS
from pipelines.vendor import Vendor

log = logging.getLogger("turnout.runner")

MARTS = (
    "dim_events",
    "dim_sessions",
    "dim_people",
    "bridge_person_identities",
    "fct_registrations",
    "fct_session_attendance",
    "fct_orders",
    "rpt_event_attendance",
    "rpt_daily_registrations",
    "rpt_session_attendance",
)
# The marts whose contract can reject rows (dbt_models/models/rejected), each with the
# vendor's own ids that name a rejected row.
REJECTED_SCHEMA = "rejected"
REJECTED_KEYS = {
    "dim_events": ("vendor_event_id",),
    "dim_sessions": ("vendor_event_id", "vendor_session_id"),
    "fct_registrations": ("vendor_event_id", "vendor_registration_id"),
    "fct_session_attendance": ("vendor_event_id", "session_reference", "vendor_person_id"),
    "fct_orders": ("vendor_event_id", "vendor_order_id"),
}
SHOWN_REJECTED_KEYS = 3
FAILED_ROWS = "dagster_dbt/failed_row_count"  # a dbt test's check metadata: the rows that fail it
DBT_TEST_ID = "unique_id"  # ... and the test's id in the dbt manifest
CROSS_VENDOR = "*"
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
INSTANCE_CONFIG = """\
# Turnout's run history. Writers to the DuckDB warehouse share one pool of size 1.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


@dataclass
class LoadOutcome:
    as_of: str | None
    loaded_vendors: list[str]
    skipped_vendors: dict[str, list[str]]
    failures: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    mart_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    # How loads changed the raw tables' shape: "raw_opus.events: banner: changed type, ..."
    schema_drift: list[str] = field(default_factory=list)
    # Rows the marts' contracts kept out, per mart, vendor and reason, with a few of their ids.
    rejected: list[str] = field(default_factory=list)
    # The dbt test behind each failed check, by its place in checks_failed.
    failed_tests: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.checks_failed and bool(self.loaded_vendors)


def run_instance(warehouse: Path) -> dg.DagsterInstance:
    """A persistent instance beside the warehouse, so `dagster dev` shows the same runs."""
    home = dagster_home(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG)
    return dg.DagsterInstance.from_config(str(home))


def run_daily_load(
    warehouse: Warehouse | Path,
    as_of: str | None = None,
    vendors: Sequence[Vendor] = VENDORS,
    instance: dg.DagsterInstance | None = None,
    on_wait: Say = log.warning,
    holder: str = "turnout run",
) -> LoadOutcome:
    """Materialises the daily job for the configured vendors and every dbt model.

    A vendor with no settings at all is skipped; one whose settings are incomplete,
    malformed or point at a host that does not answer fails at once, naming the setting,
    and the others still load. The warehouse is held for the whole run (see assets.warehouse):
    `on_wait` hears about a wait for another process, and WarehouseBusy is raised when
    the wait would outlast $TURNOUT_LOCK_TIMEOUT.
    """
    ready, skipped, problems = vet_vendors(vendors)
    outcome = LoadOutcome(as_of, [v.title for v in ready], {v.title: v.missing_settings() for v in skipped},
                          failures=problems)
    if not ready:
        if not problems:
            outcome.failures.append("no vendor is configured")
        return outcome
    warehouse = Warehouse.of(warehouse)
    with warehouse.exclusive(say=on_wait, holder=holder):
        left_out = [vendor for vendor in vendors if vendor not in ready]
        if instance is None:
            # Entered, so that loading definitions sees this instance as the current one.
            with run_instance(warehouse.location) as owned:
                _execute(warehouse, as_of, vendors, left_out, owned, outcome)
        else:
            _execute(warehouse, as_of, vendors, left_out, instance, outcome)
        if warehouse.exists():
            # Read without blocking a later writer, once for both.
            with warehouse.reading() as con:
                outcome.mart_rows = mart_rows(con)
                outcome.rejected = rejected_rows(con)
                if outcome.failed_tests:
                    name_failing_rows(con, outcome)
    return outcome


def vet_vendors(vendors: Sequence[Vendor]) -> tuple[list[Vendor], list[Vendor], list[str]]:
    """(ready, skipped, problems): vendors with no settings are skipped; each problem with the
    settings of the others (missing, of the wrong type, malformed, host unreachable) fails its
    vendor by name. A settings file that does not parse fails them all: no setting can be read."""
    broken = settings.file_problems()
    if broken:
        return [], [], broken
    skipped = [vendor for vendor in vendors if vendor.unconfigured()]
    configured = [vendor for vendor in vendors if vendor not in skipped]
    problems = {vendor.name: vendor.setting_problems() for vendor in configured}
    # Only well-formed settings are probed: a malformed URL has no host to try.
    well_formed = [vendor for vendor in configured if not problems[vendor.name]]
    for name, unreachable in unreachable_settings(well_formed).items():
        problems[name].extend(unreachable)
    ready = [vendor for vendor in configured if not problems[vendor.name]]
    return ready, skipped, [problem for vendor in configured for problem in problems[vendor.name]]


def _execute(
    warehouse: Warehouse,
    as_of: str | None,
    vendors: Sequence[Vendor],
    left_out: Sequence[Vendor],
    instance: dg.DagsterInstance,
    outcome: LoadOutcome,
) -> None:
    """Runs the daily job without the vendors left out, and adds its failures and checks to outcome."""
    defs = build_definitions(warehouse, vendors=vendors)
    job = defs.resolve_job_def(DAILY_JOB)
    loaded = loaded_datasets(warehouse)
    graph = defs.resolve_asset_graph()
    buildable = [key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    selection = daily_selection(buildable, left_out, lambda v: v.dataset in loaded)
    # A run whose process was killed still holds its warehouse slot: free it first.
    release_abandoned_runs(instance, say=log.warning)
    tags = {PROCESS_TAG: this_process(), **({AS_OF_TAG: as_of} if as_of else {})}
    result = job.execute_in_process(
        instance=instance,
        tags=tags,
        asset_selection=selection,
        raise_on_error=False,
        run_config=QUIET_CONSOLE,
    )
    for event in result.get_step_failure_events():
        outcome.failures.append(f"{event.step_key}: {_explained(_failure_message(event.step_failure_data))}")
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            outcome.checks_passed += 1
        else:
            detail = f" ({evaluation.description})" if evaluation.description else ""
            failing = evaluation.metadata.get(FAILED_ROWS)
            if failing is not None:
                detail += f": {failing.value} failing row{'s' if failing.value != 1 else ''}"
            test = evaluation.metadata.get(DBT_TEST_ID)
            if test is not None:
                outcome.failed_tests[len(outcome.checks_failed)] = test.value
            outcome.checks_failed.append(
                f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}{detail}"
            )
    outcome.schema_drift.extend(schema_drift(result.get_asset_observation_events()))


def name_failing_rows(con: Any, outcome: LoadOutcome) -> None:
    """Adds to each failed dbt check the vendors and a few ids of the rows that fail it."""
    manifest = json.loads(ensure_manifest(dbt_project()).read_text())
    for place, test in outcome.failed_tests.items():
        named = failing_rows(con, manifest, test)
        if named:
            outcome.checks_failed[place] += f"; {named}"


def schema_drift(observations: Sequence[dg.DagsterEvent]) -> list[str]:
    """The drift each load step reported on its raw tables, one line per table."""
    lines = []
    for event in observations:
        observation = event.asset_observation_data.asset_observation
        note = observation.metadata.get(SCHEMA_DRIFT)
        if note is not None:
            lines.append(f"{'.'.join(observation.asset_key.path)}: {note.value}")
    return sorted(lines)


def loaded_datasets(warehouse: Warehouse) -> set[str]:
    """The raw_<vendor> schemas already in the warehouse."""
    if not warehouse.exists():
        return set()
    with warehouse.reading() as con:
        rows = con.execute("select schema_name from information_schema.schemata").fetchall()
    return {name for (name,) in rows if name.startswith(RAW_PREFIX)}


def mart_rows(con: Any) -> dict[str, dict[str, int]]:
    """Rows per mart and vendor."""
    rows: dict[str, dict[str, int]] = {}
    existing = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    for mart in MARTS:
        if mart not in existing:
            continue
        has_vendor = con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? and column_name = 'vendor'",
            [mart],
        ).fetchone()[0]
        if has_vendor:
            counts = con.execute(
                f"select vendor, count(*) from marts.{mart} group by vendor order by vendor"
            ).fetchall()
            rows[mart] = {vendor: count for vendor, count in counts}
        else:
            # Cross-vendor marts (one person across vendors) count as a whole.
            rows[mart] = {CROSS_VENDOR: con.execute(f"select count(*) from marts.{mart}").fetchone()[0]}
    return rows


def rejected_rows(con: Any) -> list[str]:
    """One line per mart, vendor and reason for the rows a mart's contract kept out
    (rejected.<mart>), naming a few of them by the vendor's own ids."""
    lines = []
    views = {name for (name,) in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [REJECTED_SCHEMA]
    ).fetchall()}
    for mart, key in REJECTED_KEYS.items():
        if mart not in views:
            continue
        ids = " || '/' || ".join(f"coalesce(cast({column} as varchar), '∅')" for column in key)
        # Standard SQL, for either engine: the first few ids of each vendor and reason, in order.
        rows = con.execute(
            f"select vendor, rejection_reason, rejected, row_id from ("
            f"select vendor, rejection_reason, {ids} as row_id, "
            f"count(*) over (partition by vendor, rejection_reason) as rejected, "
            f"row_number() over (partition by vendor, rejection_reason order by {ids}) as place "
            f"from {REJECTED_SCHEMA}.{mart}) as numbered "
            f"where place <= {SHOWN_REJECTED_KEYS} order by vendor, rejection_reason, place"
        ).fetchall()
        grouped: dict[tuple[str, str], tuple[int, list[str]]] = {}
        for vendor, reason, count, row_id in rows:
            grouped.setdefault((vendor, reason), (count, []))[1].append(row_id)
        found = [(vendor, reason, count, examples) for (vendor, reason), (count, examples) in grouped.items()]
        for vendor, reason, count, examples in found:
            shown = ", ".join(examples) + (", …" if count > len(examples) else "")
            lines.append(f"{REJECTED_SCHEMA}.{mart}: {vendor}: {count} row{'s' if count != 1 else ''}, "
                         f"{reason} ({'/'.join(key)}: {shown})")
    return lines


def _explained(message: str) -> str:
    """DuckDB refusing a step the file (deep in dlt's or dbt's error), said as what happened
    and what to do."""
    holder = Warehouse.holder_named_in(message)
    if holder is None:
        return message
    return (f"DuckDB refused to open the warehouse: another process has it open ({holder}), "
            "opened after Turnout found the file free. This step wrote nothing: run again once "
            "that process has closed it")


def _failure_message(failure: dg.StepFailureData) -> str:
    """What a person needs from a step failure: a Failure's description, else the root cause."""
    if failure.user_failure_data and failure.user_failure_data.description:
        return failure.user_failure_data.description
    error, message = failure.error, "failed"
    while error is not None:
        message = error.message.strip().splitlines()[-1] if error.message.strip() else message
        error = error.cause or error.context
    return message

"""Faults end to end: the daily job against sandboxes that fail, throttle, drift and send garbage.

Each test serves all four vendor sandboxes with faults switched on, runs the
daily job the way the schedule does (Dagster, dlt, dbt), and checks the
warehouse against a fault-free run of the same seed or against what was
loaded before.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import pytest

from assets.runner import LoadOutcome, run_daily_load
from pipelines.registry import VENDORS
from sandboxes.faults import (
    BAD_DATE,
    BAD_PAGE,
    DRIFT_KINDS,
    MISSING_KEY,
    NULL_KEY,
    TRANSIENT_KINDS,
    FaultPlan,
)
from sandboxes.registry import sandbox_for
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.readback import query
from tests.reference import DAYS, SEED
from tests.warehouse_compare import compare_warehouses

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

FAULT_RATE = 0.10
# Short enough that a slow answer costs little, long enough for any honest one here.
REQUEST_TIMEOUT_SECONDS = 2.0
SLOW_SECONDS = 3.0


@contextmanager
def sandboxes(monkeypatch: pytest.MonkeyPatch, faults: FaultPlan | None) -> Iterator[list[SandboxServer]]:
    """Every vendor's sandbox serving, with the environment a run needs to reach it."""
    with ExitStack() as stack:
        servers = [stack.enter_context(SandboxServer(
            sandbox_for(vendor.name)(seed=SEED, scale="small", start_date=SANDBOX_START), faults=faults))
            for vendor in VENDORS]
        for vendor, server in zip(VENDORS, servers, strict=True):
            for name, value in server.app.settings(server.base_url).items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv(vendor.env_name("request_timeout"), str(REQUEST_TIMEOUT_SECONDS))
        yield servers


def daily_loads(warehouse: Path, servers: Sequence[SandboxServer], days: int = DAYS) -> list[LoadOutcome]:
    """Day 0, then each simulated day after it, every load through the daily job."""
    outcomes = []
    with dg.instance_for_test() as instance:
        for day in range(days):
            if day:
                for server in servers:
                    server.app.advance(1)
            outcomes.append(run_daily_load(warehouse, as_of=servers[0].app.today.isoformat(), instance=instance))
    return outcomes


def test_with_ten_percent_transient_faults_over_three_days_the_warehouse_equals_a_fault_free_one(
    tmp_path, monkeypatch, reliability, reference
):
    reliability.trial(
        area="Transient faults",
        injected="HTTP 500/502/503; 429 with Retry-After in seconds, as an HTTP date and 0; connections reset "
                 "mid-body; answers slower than the client timeout; JSON and XML cut short; tokens expired "
                 "mid-run (EventBookings, Icareus)",
        how_often=f"{FAULT_RATE:.0%} of all requests to all four vendors, {DAYS} simulated days",
        checked="every raw and mart table equals a fault-free run of the same seed, row for row",
    )
    # The fault-free run of the same seed and days: the reference load (tests/reference.py).
    clean = reference.day(DAYS - 1)
    faulty = tmp_path / "faulty" / "turnout.duckdb"
    plan = FaultPlan(rate=FAULT_RATE, kinds=TRANSIENT_KINDS, seed=SEED, slow_seconds=SLOW_SECONDS)
    with sandboxes(monkeypatch, faults=plan) as servers:
        started = time.monotonic()
        outcomes = daily_loads(faulty, servers)
        faulty_seconds = time.monotonic() - started
        requests = sum(server.faults.requests for server in servers)
        injected = sum((Counter(server.faults.injected) for server in servers), Counter())
    assert all(outcome.ok for outcome in outcomes), [(o.failures, o.checks_failed) for o in outcomes]

    comparison = compare_warehouses(clean, faulty)
    assert comparison.equal, comparison.report()
    assert set(injected) == set(TRANSIENT_KINDS)  # every kind was met at least once
    assert 0.05 < sum(injected.values()) / requests < 0.15
    reliability.measured(
        f"{sum(injected.values())} faults in {requests} requests "
        f"({', '.join(f'{kind} {n}' for kind, n in sorted(injected.items()))}); "
        f"{comparison.summary()}; {faulty_seconds:.0f} s with faults")


def _raw_counts(warehouse: Path) -> dict[str, int]:
    tables = query(warehouse, "select table_schema, table_name from information_schema.tables "
                              "where table_schema like 'raw_%' and table_name not like '_dlt%'")
    return {f"{schema}.{table}": query(warehouse, f'select count(*) from "{schema}"."{table}"')[0][0]
            for schema, table in tables}


# What each vendor's message must name for a bad record: the request and where the field is.
BAD_DATA_MESSAGES = {
    BAD_PAGE: {"opus": ("GET /rest/api/v1/events", "not valid JSON"),
               "eventbookings": ("GET /events", "not valid JSON"),
               "brp": ("GET /events.xml", "malformed XML"),
               "icareus": ("GET /api/event?eventId=", "not valid JSON")},
    MISSING_KEY: {"opus": ("page at offset 0, record 1", "required key field 'id' is missing"),
                  "eventbookings": ("'events' page at position 0, record 1", "required key field 'uuid' is missing"),
                  "brp": ("the <event> at position 0", "has no <id>"),
                  "icareus": ("GET /api/event?eventId=", "required key field 'eventId' is missing")},
    NULL_KEY: {"opus": ("page at offset 0, record 1", "key field 'id' is null"),
               "eventbookings": ("'events' page at position 0, record 1", "key field 'uuid' is null"),
               "brp": ("the <event> at position 0", "has an empty <id>"),
               "icareus": ("GET /api/event?eventId=", "key field 'eventId' is null")},
    BAD_DATE: {"opus": ("page at offset 0, record 1", "field 'end_date' does not parse as a date/time"),
               "eventbookings": ("'events' page at position 0, record 1",
                                 "field 'updated_on' does not parse as a date/time"),
               "brp": ("the <event> at position 0", "<lastupdate> does not parse as a date/time"),
               "icareus": ("GET /api/event?eventId=", "field 'startTime' does not parse as a date/time")},
}


def test_bad_data_fails_the_vendor_naming_request_page_and_field_and_loses_nothing(
    tmp_path, monkeypatch, reliability, reference
):
    reliability.trial(
        area="Bad data",
        injected="an event page that is not valid JSON or XML; an event without its key; an event whose key "
                 "is null; an event date that does not parse",
        how_often="each kind on every event response of all four vendors, one run per kind, after a good load",
        checked="each vendor's load fails with a message naming vendor, request, page, record and field; "
                "the rows loaded before are unchanged; a clean run afterwards succeeds",
    )
    # A good day-0 load, the reference one, for the bad data to spoil the next run.
    warehouse = reference.copy(0, tmp_path / "turnout.duckdb")
    with sandboxes(monkeypatch, faults=None) as servers:
        before = _raw_counts(warehouse)
        as_of = servers[0].app.today.isoformat()
        seconds = {}
        for kind, expected in BAD_DATA_MESSAGES.items():
            for server in servers:
                server.set_faults(FaultPlan(kinds=(kind,)))
            started = time.monotonic()
            with dg.instance_for_test() as instance:
                outcome = run_daily_load(warehouse, as_of=as_of, instance=instance)
            seconds[kind] = time.monotonic() - started
            assert not outcome.ok
            for vendor in VENDORS:
                [failure] = [f for f in outcome.failures if f.startswith(f"load_{vendor.name}")]
                assert vendor.title in failure, (kind, failure)
                assert all(part in failure for part in expected[vendor.name]), (kind, failure)
            assert _raw_counts(warehouse) == before, kind
        for server in servers:
            server.set_faults(None)
        with dg.instance_for_test() as instance:
            after = run_daily_load(warehouse, as_of=as_of, instance=instance)
        assert after.ok, (after.failures, after.checks_failed)
    reliability.measured(
        f"{len(BAD_DATA_MESSAGES)} kinds × {len(VENDORS)} vendors: every load failed naming its field; "
        f"{sum(before.values()):,} raw rows in {len(before)} tables unchanged after each; "
        + ", ".join(f"{kind} failed in {seconds[kind]:.0f} s" for kind in BAD_DATA_MESSAGES))


def test_schema_drift_lands_as_new_or_variant_columns_and_is_reported(tmp_path, monkeypatch, reliability, reference):
    reliability.trial(
        area="Schema drift",
        injected="a new field, a field whose type changes and a field that disappears, in every event record",
        how_often="all three on all four vendors, from the second day on",
        checked="the run succeeds; the new and retyped fields land as columns; the run summary and Dagster "
                "report every drift per vendor",
    )
    warehouse = reference.copy(0, tmp_path / "turnout.duckdb")
    with sandboxes(monkeypatch, faults=None) as servers:
        for server in servers:
            server.set_faults(FaultPlan(kinds=DRIFT_KINDS))
            server.app.advance(1)
        with dg.instance_for_test() as instance:
            outcome = run_daily_load(warehouse, as_of=servers[0].app.today.isoformat(), instance=instance)
            observed = [entry.dagster_event.asset_observation_data.asset_observation
                        for entry in instance.all_logs(instance.get_runs()[0].run_id)
                        if entry.dagster_event and entry.dagster_event.is_asset_observation]
    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    drift = "\n".join(outcome.schema_drift)
    for vendor in VENDORS:
        assert f"{vendor.dataset}.events" in drift, (vendor.name, drift)
    columns = {(schema, column) for schema, column in query(
        warehouse, "select table_schema, column_name from information_schema.columns where table_name = 'events'")}
    assert ("raw_opus", "promo_code") in columns and ("raw_eventbookings", "promo_code") in columns
    assert ("raw_icareus", "promo_code") in columns and ("raw_brp", "promocode") in columns
    # Each vendor's retyped field shows up, as a variant column, nested columns or JSON text.
    assert "events.service_id: changed type, new values land in service_id__v_json" in drift, drift
    assert "events.enable_datetime_conversion: changed type, now JSON" in drift, drift
    assert "events.banner: no longer sent" in drift and "events.ticket_instruction: no longer sent" in drift
    assert ("raw_opus", "banner__value") in columns and ("raw_brp", "registered__value") in columns
    reported = [o for o in observed if "schema_drift" in o.metadata]
    assert {o.asset_key.path[0] for o in reported} == {vendor.dataset for vendor in VENDORS}
    reliability.measured(f"{len(outcome.schema_drift)} drift lines in the summary, e.g. "
                         f"'{outcome.schema_drift[0]}'; {len(reported)} Dagster observations")

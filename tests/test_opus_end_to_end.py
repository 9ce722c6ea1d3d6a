"""The whole path for OPUS: sandbox → dlt → DuckDB → dbt marts, through the Dagster job.

The warehouse is compared with an independent crawl of the API after day 0,
after an advanced day, and after a repeated run with nothing changed.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from assets.runner import MARTS, run_daily_load
from sandboxes.server import SandboxServer
from tests.opus_crawl import crawl

pytestmark = pytest.mark.e2e

RAW_TABLES = ("events", "registrants", "attendees", "session_attendance", "sessions")


def _warehouse_keys(warehouse: Path) -> dict[str, set[tuple[str, ...]]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        def keys(sql: str) -> set[tuple[str, ...]]:
            return {tuple(str(v) for v in row) for row in con.execute(sql).fetchall()}

        return {
            "events": keys("select vendor_event_id from marts.dim_events where vendor = 'opus'"),
            "registrations": keys(
                "select e.vendor_event_id, r.vendor_registration_id "
                "from marts.fct_registrations r join marts.dim_events e using (event_key) "
                "where r.vendor = 'opus' and r.status <> 'cancelled'"
            ),
            "cancelled": keys(
                "select e.vendor_event_id, r.vendor_registration_id "
                "from marts.fct_registrations r join marts.dim_events e using (event_key) "
                "where r.vendor = 'opus' and r.status = 'cancelled'"
            ),
            "attendance": keys(
                "select event_id, user_id, product_identification "
                "from raw_opus.session_attendance where _dlt_valid_to is null"
            ),
            "attendance_in_marts": keys(
                "select count(*) from marts.fct_session_attendance where vendor = 'opus'"
            ),
        }


def _row_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = {f"raw_opus.{t}": con.execute(f"select count(*) from raw_opus.{t}").fetchone()[0]
                  for t in RAW_TABLES}
        counts.update({f"marts.{m}": con.execute(f"select count(*) from marts.{m}").fetchone()[0]
                       for m in MARTS})
    return counts


def _load(warehouse: Path, server: SandboxServer, instance: dg.DagsterInstance):
    outcome = run_daily_load(warehouse, as_of=server.app.today.isoformat(), instance=instance)
    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    assert outcome.checks_passed > 0
    return outcome


def _assert_matches_api(warehouse: Path, server: SandboxServer) -> dict[str, set]:
    api_key = server.app.settings(server.base_url)["SOURCES__OPUS__API_KEY"]
    api = crawl(server.base_url, api_key)
    stored = _warehouse_keys(warehouse)
    assert stored["events"] == api["events"]
    assert stored["registrations"] == api["registrations"]
    assert stored["attendance"] == api["attendance"]
    assert stored["attendance_in_marts"] == {(str(len(api["attendance"])),)}
    return {**api, "cancelled": stored["cancelled"]}


def test_warehouse_matches_the_api_across_days(opus_configured, warehouse, instance):
    _load(warehouse, opus_configured, instance)
    day0 = _assert_matches_api(warehouse, opus_configured)
    assert day0["registrations"] and day0["attendance"]
    assert day0["cancelled"] == set()

    # An explicit cancellation through the vendor's documented call, on top of the day's own.
    event_id, registration_id = sorted(day0["registrations"])[0]
    user_id = _registrant_user(opus_configured, event_id, registration_id)
    httpx.request(
        "DELETE",
        f"{opus_configured.base_url}/rest/api/v1/events/cancel_registration",
        json={"api_key": opus_configured.app.settings("")["SOURCES__OPUS__API_KEY"],
              "user_id": user_id, "event_id": event_id},
    ).raise_for_status()
    httpx.post(f"{opus_configured.base_url}/_sandbox/advance", params={"days": 1}).raise_for_status()

    _load(warehouse, opus_configured, instance)
    day1 = _assert_matches_api(warehouse, opus_configured)
    vanished = day0["registrations"] - day1["registrations"]
    assert (event_id, registration_id) in vanished
    # Everything the API stopped listing is kept, as cancelled, with when it was first seen gone.
    assert day1["cancelled"] == vanished
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cancelled_at = con.execute(
            "select distinct cast(cancelled_at as date) from marts.fct_registrations "
            "where status = 'cancelled'"
        ).fetchall()
    assert cancelled_at == [(opus_configured.app.today,)]


def test_a_repeated_run_adds_no_rows(opus_configured, warehouse, instance):
    _load(warehouse, opus_configured, instance)
    before = _row_counts(warehouse)
    _load(warehouse, opus_configured, instance)
    assert _row_counts(warehouse) == before


def _registrant_user(server: SandboxServer, event_id: str, registration_id: str) -> str:
    api_key = server.app.settings(server.base_url)["SOURCES__OPUS__API_KEY"]
    response = httpx.get(
        f"{server.base_url}/rest/api/v1/events/registrants",
        params={"api_key": api_key, "event_id": event_id, "limit": 1000},
    )
    for row in response.json()["registrants"]:
        if str(row["registration_id"]) == registration_id:
            return str(row["user_id"])
    raise AssertionError("registration not listed")

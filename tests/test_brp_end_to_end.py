"""BRP through the whole graph: sandbox → streamed XML → dlt → DuckDB → dbt marts.

The marts are compared with an independent crawl of `events.xml` by count and
key on day 0 and after an advanced day: events, current bookings as
registrations, capacity and filled places, and the fill rate.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest

from assets.definitions import build_definitions
from assets.runner import run_daily_load
from sandboxes.brp import DEMO_API_KEY
from sandboxes.server import SandboxServer
from tests.brp_crawl import Crawl, crawl
from tests.readback import event_log, query

pytestmark = pytest.mark.e2e


def _load(warehouse: Path, server: SandboxServer, instance: dg.DagsterInstance) -> None:
    outcome = run_daily_load(warehouse, as_of=server.app.today.isoformat(), instance=instance)
    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    assert outcome.loaded_vendors == ["BRP"]
    assert outcome.mart_rows["rpt_event_attendance"]["brp"] > 0


def _assert_matches_api(warehouse: Path, api: Crawl) -> None:
    events = {row[0]: row[1:] for row in query(warehouse, """
        select vendor_event_id, capacity, filled, business_unit, timezone
        from marts.dim_events where vendor = 'brp'""")}
    assert set(events) == set(api.events)
    for event_id, fields in api.events.items():
        assert events[event_id] == (int(fields["bookableslots"]), int(fields["filledslots"]),
                                    fields["businessunit__name"], "Europe/Stockholm")

    registered = set(query(warehouse, """
        select e.vendor_event_id, r.vendor_registration_id
        from marts.fct_registrations r join marts.dim_events e using (event_key)
        where r.vendor = 'brp' and r.status = 'registered'"""))
    assert registered == api.participants

    people = {row[0]: row[1:] for row in query(warehouse, """
        select identity.vendor_person_id, person.first_name, person.last_name
        from staging.int_people as identity join marts.dim_people as person using (person_key)
        where identity.vendor = 'brp'""")}
    assert {person: people[person] for person in api.people} == api.people

    report = {row[0]: row[1:] for row in query(warehouse, """
        select vendor_event_id, registrations, places_filled, fill_rate
        from marts.rpt_event_attendance where vendor = 'brp'""")}
    # BRP records bookings, not who came: attendance figures are unknown, not zero.
    [(attendance_known,)] = query(warehouse, """
        select count(*) from marts.rpt_event_attendance where vendor = 'brp'
        and (attendees is not null or no_shows is not null or attendance_rate is not null)""")
    assert attendance_known == 0
    for event_id, fields in api.events.items():
        capacity, filled = int(fields["bookableslots"]), int(fields["filledslots"])
        listed = sum(1 for event, _ in api.participants if event == event_id)
        registrations, places_filled, fill_rate = report[event_id]
        assert (registrations, places_filled) == (listed, filled)
        assert fill_rate == (pytest.approx(filled / capacity) if capacity else None)


def test_marts_match_the_api_across_days(brp_configured, warehouse, instance):
    _load(warehouse, brp_configured, instance)
    _assert_matches_api(warehouse, crawl(brp_configured.base_url, DEMO_API_KEY))

    advanced = httpx.post(f"{brp_configured.base_url}/_sandbox/advance", params={"days": 2})
    advanced.raise_for_status()
    _load(warehouse, brp_configured, instance)
    _assert_matches_api(warehouse, crawl(brp_configured.base_url, DEMO_API_KEY))

    # Every booking cancelled in those days is kept, as cancelled.
    [(cancelled,)] = query(warehouse, "select count(*) from marts.fct_registrations "
                                       "where vendor = 'brp' and status = 'cancelled'")
    assert cancelled == advanced.json()["cancelled_bookings"] > 0
    [(full,)] = query(warehouse, "select count(*) from marts.rpt_event_attendance "
                                  "where vendor = 'brp' and fill_rate = 1")
    assert full > 0, "some BRP events are fully booked"


def test_brp_tables_are_in_the_one_lineage_graph(warehouse):
    graph = build_definitions(warehouse).resolve_asset_graph()
    events, participants = dg.AssetKey(["raw_brp", "events"]), dg.AssetKey(["raw_brp", "participants"])
    assert {events, participants} <= set(graph.get_all_asset_keys())
    assert events in graph.get(dg.AssetKey(["staging", "stg_brp__events"])).parent_keys
    assert participants in graph.get(dg.AssetKey(["staging", "stg_brp__registrations"])).parent_keys
    assert dg.AssetKey(["raw_brp", "event_feed"]) not in graph.get_all_asset_keys()


def test_the_api_key_stays_out_of_everything_a_run_writes(brp_configured, warehouse, instance, tmp_path):
    outcome = run_daily_load(warehouse, as_of=brp_configured.app.today.isoformat(), instance=instance)
    assert outcome.ok, outcome.failures
    roots = (tmp_path, Path(instance.root_directory))
    written = [path for root in roots for path in root.rglob("*") if path.is_file()]
    assert any(path.suffix == ".duckdb" for path in written)
    for path in written:
        assert DEMO_API_KEY.encode() not in path.read_bytes(), path
    logged = event_log(instance)
    assert DEMO_API_KEY not in logged


def test_an_error_document_fails_the_load_naming_brp_and_keeps_what_was_loaded(
    brp_configured, warehouse, instance
):
    _load(warehouse, brp_configured, instance)
    before = query(warehouse, "select count(*) from marts.fct_registrations where vendor = 'brp'")
    brp_configured.app.fail_next(403, "ApiKeyInvalid", "The api key is not valid")

    outcome = run_daily_load(warehouse, as_of=brp_configured.app.today.isoformat(), instance=instance)

    assert not outcome.ok
    failure = " ".join(outcome.failures)
    assert "BRP GET /events.xml?" in failure and "error code ApiKeyInvalid" in failure
    logged = event_log(instance)
    assert "error code ApiKeyInvalid" in logged and DEMO_API_KEY not in logged + failure
    assert query(warehouse, "select count(*) from marts.fct_registrations where vendor = 'brp'") == before

"""Icareus Suite through the whole graph: sandbox → signed requests → dlt → DuckDB → dbt marts.

The marts are compared with an independent fetch of the configured events on
day 0, and again after events and rooms were edited through the vendor's own
PUT and DELETE calls and a day was advanced.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import build_definitions
from assets.runner import run_daily_load
from sandboxes.server import SandboxServer
from tests.icareus_crawl import Crawl, IcareusApi, token
from tests.readback import event_log, query

pytestmark = pytest.mark.e2e


def _load(warehouse: Path, server: SandboxServer, instance: dg.DagsterInstance) -> None:
    outcome = run_daily_load(warehouse, as_of=server.app.today.isoformat(), instance=instance)
    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    assert outcome.loaded_vendors == ["Icareus Suite"]
    assert outcome.mart_rows["dim_sessions"]["icareus"] > 0


def _assert_matches_api(warehouse: Path, crawl: Crawl) -> None:
    events = {row[0]: row[1:] for row in query(warehouse, """
        select vendor_event_id, name, starts_at, ends_at, public_starts_at, public_ends_at
        from marts.dim_events where vendor = 'icareus'""")}
    assert events == {event_id: crawl.event_row(event_id) for event_id in crawl.events}
    sessions = {row[0]: row[1:] for row in query(warehouse, """
        select s.vendor_session_id, e.vendor_event_id, s.title, s.starts_at, s.ends_at,
               s.public_starts_at, s.public_ends_at
        from marts.dim_sessions s join marts.dim_events e using (event_key)
        where s.vendor = 'icareus'""")}
    assert sessions == {room_id: crawl.room_row(room_id) for room_id in crawl.rooms}
    # Icareus gives no registrations or attendance: those figures are unknown, not zero.
    [(known,)] = query(warehouse, """
        select count(*) from marts.rpt_event_attendance where vendor = 'icareus' and (
            registrations is not null or cancellations is not null or places_filled is not null
            or attendees is not null or no_shows is not null or minutes_attended is not null
            or orders is not null or gross_revenue is not null)""")
    assert known == 0


def test_marts_match_the_api_after_edits_through_the_vendors_own_calls(icareus_configured, warehouse, instance):
    app = icareus_configured.app
    api = IcareusApi(app.settings(icareus_configured.base_url))
    _load(warehouse, icareus_configured, instance)
    _assert_matches_api(warehouse, api.crawl())

    now_ms = int(app.now.timestamp() * 1000)
    future = [event for event in (api.event(event_id) for event_id in api.event_ids) if event["startTime"] > now_ms]
    finnish = next(event for event in future if event["defaultLanguage"] == "fi_FI")
    api.edit_event(finnish["eventId"], {"name": {"fi_FI": "Uusi nimi", "sv_SE": "Nytt namn"},
                                        "startTime": finnish["startTime"] + 3_600_000,
                                        "eventLanguages": [*finnish["eventLanguages"], "sv_SE"]})
    english = next(event for event in future if event["defaultLanguage"] == "en_US")
    api.edit_event(english["eventId"], {"duration": english["duration"] + 1800})
    multiroom = next(event for event in future if len(event["rooms"]) > 1)
    breakout = next(room for room in multiroom["rooms"] if room["roomId"] != multiroom["mainEventRoomId"])
    api.delete_room(breakout["roomId"])
    api.edit_room(multiroom["mainEventRoomId"], {"name": "Plenary"})
    past = next(event for event in (api.event(event_id) for event_id in api.event_ids)
                if event["startTime"] + 1000 * event["duration"] < now_ms)
    api.edit_event(past["eventId"], {"name": "Recording: corrected title", "durationPublic": 600,
                                     "startTimePublic": past["startTime"]})
    api.http.post("/_sandbox/advance", params={"days": 1}).raise_for_status()

    _load(warehouse, icareus_configured, instance)

    crawl = api.crawl()
    _assert_matches_api(warehouse, crawl)
    [(name,)] = query(warehouse, f"""
        select name from marts.dim_events where vendor = 'icareus' and vendor_event_id = '{finnish["eventId"]}'""")
    assert name == "Uusi nimi"
    translations = set(query(warehouse, f"""
        select language, text from staging.stg_icareus__translations
        where entity = 'event' and field = 'name' and vendor_event_id = '{finnish["eventId"]}'"""))
    assert {("fi_FI", "Uusi nimi"), ("sv_SE", "Nytt namn")} <= translations
    assert str(breakout["roomId"]) not in {row[0] for row in query(
        warehouse, "select vendor_session_id from marts.dim_sessions where vendor = 'icareus'")}
    api.close()


def test_icareus_tables_are_in_the_one_lineage_graph(warehouse):
    graph = build_definitions(warehouse).resolve_asset_graph()
    events, rooms = dg.AssetKey(["raw_icareus", "events"]), dg.AssetKey(["raw_icareus", "rooms"])
    assert {events, rooms} <= set(graph.get_all_asset_keys())
    assert events in graph.get(dg.AssetKey(["staging", "stg_icareus__events"])).parent_keys
    assert rooms in graph.get(dg.AssetKey(["staging", "stg_icareus__sessions"])).parent_keys
    assert dg.AssetKey(["raw_icareus", "event_feed"]) not in graph.get_all_asset_keys()


def test_neither_the_secret_nor_a_token_appears_in_anything_a_run_writes(
    icareus_configured, warehouse, instance, tmp_path
):
    app = icareus_configured.app
    settings = app.settings(icareus_configured.base_url)
    outcome = run_daily_load(warehouse, as_of=app.today.isoformat(), instance=instance)
    assert outcome.ok, outcome.failures
    secret = settings["SOURCES__ICAREUS__SECRET"].encode()
    tokens = {token(settings["SOURCES__ICAREUS__ORGANIZATION_ID"], settings["SOURCES__ICAREUS__SECRET"],
                    settings["SOURCES__ICAREUS__CLIENT_IP"], int(hex_time, 16)).encode()
              for hex_time in app.tokens_accepted}
    assert tokens
    roots = (tmp_path, Path(instance.root_directory))
    written = [path for root in roots for path in root.rglob("*") if path.is_file()]
    assert any(path.suffix == ".duckdb" for path in written)
    for path in written:
        content = path.read_bytes()
        assert secret not in content and not any(signed in content for signed in tokens), path
    log = event_log(instance).encode()
    assert secret not in log and not any(signed in log for signed in tokens)


def test_a_status_error_under_http_200_fails_the_run_naming_icareus_and_keeps_what_was_loaded(
    icareus_configured, warehouse, instance, monkeypatch
):
    _load(warehouse, icareus_configured, instance)
    before = query(warehouse, "select * from marts.dim_sessions where vendor = 'icareus' order by all")
    configured = icareus_configured.app.settings(icareus_configured.base_url)["SOURCES__ICAREUS__EVENT_IDS"]
    monkeypatch.setenv("SOURCES__ICAREUS__EVENT_IDS", f"{configured},999999")

    outcome = run_daily_load(warehouse, as_of=icareus_configured.app.today.isoformat(), instance=instance)

    assert not outcome.ok
    failure = " ".join(outcome.failures)
    assert "Icareus Suite GET /api/event?eventId=999999" in failure and 'status "error"' in failure
    assert 'status "error"' in event_log(instance)
    assert query(warehouse, "select * from marts.dim_sessions where vendor = 'icareus' order by all") == before

"""The Icareus source on its own against the sandbox: tokens, rooms, translations, errors."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.http import (
    VendorAuthError,
    VendorClient,
    VendorError,
    VendorResponseError,
    vendor_error_behind,
)
from pipelines.icareus import helpers, icareus_source
from pipelines.icareus.helpers import RENEWALS_ON_401, SignedToken
from sandboxes.icareus import IcareusSandbox
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.icareus_crawl import IcareusApi
from tests.readback import query

WRONG_SECRET = "wrong-icareus-secret-Zq81"


def _settings(server: SandboxServer) -> dict[str, str]:
    return server.app.settings(server.base_url)


def _source(server: SandboxServer, **overrides):
    settings = _settings(server)
    arguments = {
        "base_url": settings["SOURCES__ICAREUS__BASE_URL"],
        "organization_id": settings["SOURCES__ICAREUS__ORGANIZATION_ID"],
        "secret": settings["SOURCES__ICAREUS__SECRET"],
        "client_ip": settings["SOURCES__ICAREUS__CLIENT_IP"],
        "event_ids": settings["SOURCES__ICAREUS__EVENT_IDS"],
        "as_of": server.app.today.isoformat(),
        **overrides,
    }
    return icareus_source(**arguments)


def _run(server: SandboxServer, tmp_path: Path, **overrides) -> Path:
    pipeline = dlt.pipeline(
        pipeline_name="icareus_test",
        destination=dlt.destinations.duckdb(str(tmp_path / "icareus.duckdb")),
        dataset_name="raw_icareus",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run(_source(server, **overrides), loader_file_format="parquet")
    return tmp_path / "icareus.duckdb"


def _vendor_error(failed: BaseException) -> VendorError:
    found = vendor_error_behind(failed)
    assert found is not None, f"no vendor error behind {failed!r}"
    return found


@pytest.fixture
def api(icareus_server):
    client = IcareusApi(_settings(icareus_server))
    yield client
    client.close()


def _raw_events(warehouse: Path) -> dict[str, tuple]:
    return {str(row[0]): row[1:] for row in query(warehouse, """
        select event_id, name, public_name, description, start_time, duration, start_time_public,
               duration_public, default_language, event_languages
        from raw_icareus.events""")}


def _assert_raw_matches_api(warehouse: Path, api: IcareusApi) -> None:
    crawl = api.crawl()
    events = _raw_events(warehouse)
    assert set(events) == set(crawl.events)
    for event_id, event in crawl.events.items():
        name, public_name, description, start, duration, start_public, duration_public, language, languages = (
            events[event_id])
        # Every translation is kept, as the vendor sends it.
        assert json.loads(name) == event["name"]
        assert (json.loads(public_name) if public_name else None) == event.get("publicName")
        assert (json.loads(description) if description else None) == event.get("description")
        assert (start, duration) == (event["startTime"], event["duration"])
        assert (start_public, duration_public) == (event.get("startTimePublic"), event.get("durationPublic"))
        assert (language, json.loads(languages)) == (event["defaultLanguage"], event["eventLanguages"])
    rooms = {str(room_id): (str(event_id), start, duration) for room_id, event_id, start, duration in query(
        warehouse, "select room_id, event_id, start_time, duration from raw_icareus.rooms")}
    assert rooms == {room_id: (str(room["eventId"]), room["startTime"], room["duration"])
                     for room_id, room in crawl.rooms.items()}


def test_the_configured_events_and_their_rooms_land_as_the_api_serves_them(icareus_server, api, tmp_path):
    warehouse = _run(icareus_server, tmp_path)
    _assert_raw_matches_api(warehouse, api)
    assert len(_raw_events(warehouse)) == len(icareus_server.app.event_ids()) > 0
    # Some events are read in Finnish by default, and keep their English too.
    languages = query(warehouse, "select default_language, count(*) from raw_icareus.events group by all")
    assert {"en_US", "fi_FI"} <= {language for language, _ in languages}


def test_a_second_run_the_same_day_adds_no_rows(icareus_server, tmp_path):
    warehouse = _run(icareus_server, tmp_path)
    counts = query(warehouse, "select (select count(*) from raw_icareus.events), "
                               "(select count(*) from raw_icareus.rooms)")
    _run(icareus_server, tmp_path)
    assert query(warehouse, "select (select count(*) from raw_icareus.events), "
                             "(select count(*) from raw_icareus.rooms)") == counts


def test_edits_made_through_the_vendors_api_land_and_a_deleted_room_goes(icareus_server, api, tmp_path):
    warehouse = _run(icareus_server, tmp_path)
    app: IcareusSandbox = icareus_server.app
    now_ms = int(app.now.timestamp() * 1000)
    future = [api.event(event_id) for event_id in app.event_ids()]
    future = [event for event in future if event["startTime"] > now_ms]
    multiroom = next(event for event in future if len(event["rooms"]) > 1)
    breakout = next(room for room in multiroom["rooms"] if room["roomId"] != multiroom["mainEventRoomId"])
    api.delete_room(breakout["roomId"])
    edited = future[0]
    api.edit_event(edited["eventId"], {"name": {"sv_SE": "Svenskt namn"}, "startTime": edited["startTime"] + 1_800_000,
                                       "eventLanguages": [*edited["eventLanguages"], "sv_SE"]})
    main_room = edited["mainEventRoomId"]
    api.edit_room(main_room, {"name": {edited["defaultLanguage"]: "Renamed main room"}})

    _run(icareus_server, tmp_path)

    _assert_raw_matches_api(warehouse, api)
    assert query(warehouse, f"select count(*) from raw_icareus.rooms where room_id = {breakout['roomId']}") == [(0,)]
    [(name,)] = query(warehouse, f"select name ->> 'sv_SE' from raw_icareus.events where event_id = {edited['eventId']}")
    assert name == "Svenskt namn"


def test_stream_publishing_details_are_not_stored(icareus_server, tmp_path):
    warehouse = _run(icareus_server, tmp_path)
    columns = {name for (name,) in query(warehouse, """
        select column_name from information_schema.columns where table_schema = 'raw_icareus'""")}
    assert not {name for name in columns if "publishing" in name or "ingest" in name}
    assert b"rtmp://" not in warehouse.read_bytes()


def test_without_a_window_every_configured_event_is_read_every_run_so_an_edit_to_a_past_event_lands(
    icareus_server, api, tmp_path
):
    app: IcareusSandbox = icareus_server.app
    warehouse = _run(icareus_server, tmp_path, window_days_after_end=None)
    now_ms = int(app.now.timestamp() * 1000)
    past = next(event_id for event_id in app.event_ids() if helpers.end_ms(app.event(event_id)) < now_ms)
    api.edit_event(past, {"name": "Recording: corrected title"})
    served = app.requests_served

    _run(icareus_server, tmp_path, as_of=(app.today + dt.timedelta(days=200)).isoformat(),
         window_days_after_end=None)

    assert app.requests_served == served + len(app.event_ids())
    _assert_raw_matches_api(warehouse, api)


def test_by_default_events_long_over_are_not_read_again(icareus_server, tmp_path):
    app: IcareusSandbox = icareus_server.app
    _run(icareus_server, tmp_path)
    served = app.requests_served
    assert served == len(app.event_ids())

    # A run 200 days on: every event ended over 30 days before, and was seen ended.
    later = (app.today + dt.timedelta(days=200)).isoformat()
    _run(icareus_server, tmp_path, as_of=later)
    assert app.requests_served == served

    # 40 days on: only those that ended in the 30 days before, or have not ended, are read.
    as_of = app.today + dt.timedelta(days=40)
    window_start = dt.datetime.combine(as_of - dt.timedelta(days=30), dt.time(), tzinfo=dt.UTC)
    expected = [event_id for event_id in app.event_ids()
                if helpers.end_ms(app.event(event_id)) >= window_start.timestamp() * 1000]
    assert 0 < len(expected) < len(app.event_ids())
    _run(icareus_server, tmp_path, as_of=as_of.isoformat())
    assert app.requests_served == served + len(expected)


def test_an_unknown_event_answered_with_status_error_fails_the_run_and_keeps_what_was_loaded(
    icareus_server, tmp_path
):
    warehouse = _run(icareus_server, tmp_path)
    before = _raw_events(warehouse)
    configured = _settings(icareus_server)["SOURCES__ICAREUS__EVENT_IDS"]

    with pytest.raises(PipelineStepFailed) as failed:
        _run(icareus_server, tmp_path, event_ids=f"{configured},999999")

    error = _vendor_error(failed.value)
    assert isinstance(error, VendorResponseError)
    assert str(error).startswith("Icareus Suite GET /api/event?eventId=999999&organizationId=")
    assert 'status "error" (HTTP 200)' in str(error) and "not found" in str(error).lower()
    assert _raw_events(warehouse) == before


def test_a_wrong_secret_fails_after_one_event_and_never_shows_the_secret(icareus_server, tmp_path, caplog):
    with pytest.raises(PipelineStepFailed) as failed:
        _run(icareus_server, tmp_path, secret=WRONG_SECRET)

    error = _vendor_error(failed.value)
    assert isinstance(error, VendorAuthError) and error.status == 401
    assert "Icareus Suite GET /api/event?eventId=" in str(error)
    assert "check organization_id, secret and client_ip" in str(error)
    # The first event alone, signed anew after each 401 a few times: nothing else was tried.
    assert icareus_server.app.requests_served == 1 + RENEWALS_ON_401
    assert WRONG_SECRET not in str(failed.value) + caplog.text


@pytest.mark.parametrize("setting, value, named", [
    ("event_ids", "12,abc", "SOURCES__ICAREUS__EVENT_IDS"),
    ("client_ip", "my-laptop", "SOURCES__ICAREUS__CLIENT_IP"),
    ("organization_id", "acme", "SOURCES__ICAREUS__ORGANIZATION_ID"),
])
def test_a_malformed_setting_fails_before_any_request_naming_the_setting(
    icareus_server, tmp_path, setting, value, named
):
    with pytest.raises(PipelineStepFailed) as failed:
        _run(icareus_server, tmp_path, **{setting: value})
    assert named in str(_vendor_error(failed.value))
    assert icareus_server.app.requests_served == 0


def test_a_wrong_client_ip_is_rejected_like_a_wrong_secret(icareus_server, tmp_path):
    with pytest.raises(PipelineStepFailed) as failed:
        _run(icareus_server, tmp_path, client_ip="203.0.113.7")
    assert isinstance(_vendor_error(failed.value), VendorAuthError)


def test_tokens_stay_fresh_through_a_run_longer_than_the_vendors_tolerance(tmp_path):
    # Each answer takes 0.25 s and a token is good for 1 s: one token could never serve the run.
    app = IcareusSandbox(seed=3, scale="small", start_date=SANDBOX_START, token_tolerance=1.0)
    with SandboxServer(app, latency=0.25) as server:
        started = time.monotonic()
        warehouse = _run(server, tmp_path, max_in_flight=1)
        took = time.monotonic() - started
    assert took > 2
    assert len(_raw_events(warehouse)) == len(app.event_ids())
    assert len(set(app.tokens_accepted)) >= 2


def test_a_machine_whose_clock_is_ten_minutes_slow_still_reads_every_event(icareus_server):
    settings = _settings(icareus_server)
    auth = SignedToken(int(settings["SOURCES__ICAREUS__ORGANIZATION_ID"]), settings["SOURCES__ICAREUS__SECRET"],
                       settings["SOURCES__ICAREUS__CLIENT_IP"], clock=lambda: time.time() - 600)
    app: IcareusSandbox = icareus_server.app
    with VendorClient("icareus", "Icareus Suite", icareus_server.base_url, auth=auth) as client:
        read = [helpers.read_event(client, app.organization_id, event_id) for event_id in app.event_ids()]
    assert [event["eventId"] for event in read] == app.event_ids()
    assert 595 <= auth.offset <= 605
    # One rejected token at the start, then every request accepted at once.
    assert app.requests_served == len(app.event_ids()) + 1

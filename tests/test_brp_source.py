"""The BRP source on its own against the sandbox: windows, cursor, history, errors, Stockholm time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dlt
import httpx
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.brp import brp_source
from pipelines.http import RetryPolicy, VendorAuthError, VendorError, VendorResponseError, vendor_error_behind
from sandboxes.brp import DEMO_API_KEY, BrpSandbox
from sandboxes.server import SandboxServer
from tests.brp_crawl import crawl, stockholm_to_utc
from tests.conftest import SANDBOX_START
from tests.readback import query

UTC = dt.UTC
WRONG_KEY = "wrong-brp-key-Qx71"


def _settings(server: SandboxServer) -> dict[str, str]:
    return server.app.settings(server.base_url)


def _source(server: SandboxServer, **overrides):
    settings = _settings(server)
    arguments = {
        "base_url": settings["SOURCES__BRP__BASE_URL"],
        "api_key": settings["SOURCES__BRP__API_KEY"],
        "start_date": settings["SOURCES__BRP__START_DATE"],
        "as_of": server.app.today.isoformat(),
        **overrides,
    }
    return brp_source(**arguments)


def _pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="brp_test",
        destination=dlt.destinations.duckdb(str(tmp_path / "brp.duckdb")),
        dataset_name="raw_brp",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def _run(server: SandboxServer, tmp_path: Path, **overrides) -> Path:
    _pipeline(tmp_path).run(_source(server, **overrides), loader_file_format="parquet")
    return tmp_path / "brp.duckdb"


def _advance(server: SandboxServer, days: int = 1) -> None:
    httpx.post(f"{server.base_url}/_sandbox/advance", params={"days": days}).raise_for_status()


def _assert_matches_api(warehouse: Path, server: SandboxServer) -> None:
    api = crawl(server.base_url, DEMO_API_KEY)
    events = {row[0] for row in query(warehouse, "select id from raw_brp.events")}
    assert events == set(api.events)
    current = set(query(warehouse, "select event_id, eventbookingid from raw_brp.participants "
                                    "where _dlt_valid_to is null"))
    assert current == api.participants
    filled = dict(query(warehouse, "select id, filledslots from raw_brp.events"))
    assert filled == {event_id: fields["filledslots"] for event_id, fields in api.events.items()}


def _row_counts(warehouse: Path) -> tuple[int, int]:
    [(events, participants)] = query(warehouse, """
        select (select count(*) from raw_brp.events), (select count(*) from raw_brp.participants)""")
    return events, participants


# --- loading and following the days ---------------------------------------------------------------


def test_the_first_run_backfills_every_event_and_participant(brp_server, tmp_path):
    warehouse = _run(brp_server, tmp_path)
    _assert_matches_api(warehouse, brp_server)
    [(participants,)] = query(warehouse, "select count(*) from raw_brp.participants")
    assert participants > 100


def test_days_of_bookings_and_cancellations_are_followed_and_nothing_is_lost(brp_server, tmp_path):
    warehouse = _run(brp_server, tmp_path)
    before = set(query(warehouse, "select event_id, eventbookingid from raw_brp.participants"))
    for _ in range(2):
        _advance(brp_server)
        _run(brp_server, tmp_path)
        _assert_matches_api(warehouse, brp_server)

    ever = set(query(warehouse, "select event_id, eventbookingid from raw_brp.participants"))
    assert before <= ever  # a cancelled booking keeps its last version
    retired = query(warehouse, "select distinct cast(_dlt_valid_to as date) from raw_brp.participants "
                                "where _dlt_valid_to is not null")
    assert retired, "the sandbox cancels bookings every day"
    assert {day for (day,) in retired} <= {SANDBOX_START + dt.timedelta(days=1), SANDBOX_START + dt.timedelta(days=2)}


def test_a_second_run_on_the_same_day_adds_nothing(brp_server, tmp_path):
    warehouse = _run(brp_server, tmp_path)
    _advance(brp_server)
    _run(brp_server, tmp_path)
    counts = _row_counts(warehouse)
    _run(brp_server, tmp_path)
    assert _row_counts(warehouse) == counts


def test_later_runs_read_only_the_active_window(brp_server, tmp_path):
    served = brp_server.app.requests_served
    _run(brp_server, tmp_path)
    backfill_requests = brp_server.app.requests_served - served
    _advance(brp_server)
    served = brp_server.app.requests_served
    _run(brp_server, tmp_path)
    # The window by start and end date, the events ongoing on its first day and on the run
    # date, and everything starting from the run date on.
    assert brp_server.app.requests_served - served == 4 < backfill_requests


def test_an_event_is_rewritten_only_when_changed_or_active(brp_server, tmp_path):
    warehouse = _run(brp_server, tmp_path)
    loads_before = dict(query(warehouse, "select id, _dlt_load_id from raw_brp.events"))
    [(cursor,)] = query(warehouse, "select max(lastupdate_utc) from raw_brp.events")
    _advance(brp_server)
    _run(brp_server, tmp_path)

    run_day = dt.datetime.combine(brp_server.app.today, dt.time(), tzinfo=UTC)
    rows = query(warehouse, "select id, _dlt_load_id, lastupdate_utc, bookableearliest_utc, ends_at_utc "
                             "from raw_brp.events")
    rewritten, kept = set(), set()
    for event_id, load_id, updated, opens, ends in rows:
        (rewritten if load_id != loads_before.get(event_id) else kept).add(event_id)
        active = opens < run_day + dt.timedelta(days=1) and ends >= run_day - dt.timedelta(days=30)
        changed = updated >= cursor - dt.timedelta(days=1)  # the default lookback
        if active or changed:
            assert event_id in rewritten, event_id
        elif ends >= run_day - dt.timedelta(days=30):
            # Read again but neither bookable yet nor changed: left as it was.
            assert event_id in kept, event_id
    assert kept and rewritten


# --- Stockholm time -------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [dt.date(2026, 3, 20), dt.date(2026, 10, 18)],
                         ids=["spring-forward", "fall-back"])
def test_times_are_utc_across_the_daylight_saving_change(start, tmp_path):
    with SandboxServer(BrpSandbox(seed=3, scale="small", start_date=start)) as server:
        warehouse = _run(server, tmp_path)
        api = crawl(server.base_url, DEMO_API_KEY)
    rows = {row[0]: row[1:] for row in query(warehouse, """
        select id, starts_at_utc, lastupdate_utc, bookableearliest_utc, bookablelatest_utc from raw_brp.events""")}
    offsets = set()
    for event_id, fields in api.events.items():
        starts, updated, opens, closes = rows[event_id]
        local_start = f"{fields['startdate']} {fields.get('time') or '00:00'}"
        assert starts == stockholm_to_utc(local_start), event_id
        assert updated == stockholm_to_utc(fields["lastupdate"]), event_id
        assert opens == dt.datetime.fromtimestamp(int(fields["bookableearliest__timepoint__timestamp"]), UTC)
        assert closes == dt.datetime.fromtimestamp(int(fields["bookablelatest__timepoint__timestamp"]), UTC)
        offsets.add(dt.datetime.fromisoformat(local_start).replace(tzinfo=UTC) - starts)
    # Events on both sides of the change: an hour ahead of UTC in winter, two in summer.
    assert offsets == {dt.timedelta(hours=1), dt.timedelta(hours=2)}


# --- errors ---------------------------------------------------------------------------------------


def _failure(server: SandboxServer, tmp_path: Path, **overrides) -> VendorError:
    with pytest.raises(PipelineStepFailed) as failed:
        _run(server, tmp_path, **overrides)
    cause = vendor_error_behind(failed.value)
    assert cause is not None, failed.value
    return cause


def test_an_xml_error_document_names_brp_the_request_and_the_code_and_loses_nothing(brp_server, tmp_path):
    warehouse = _run(brp_server, tmp_path)
    counts = _row_counts(warehouse)
    _advance(brp_server)
    brp_server.app.fail_next(400, "InvalidParameter", "enddate 'x' is not a date")

    # One window at a time, so the answer that fails is the first window's (the active one).
    error = _failure(brp_server, tmp_path, max_in_flight=1)

    message = str(error)
    assert message.startswith("BRP GET /events.xml?")
    assert "includeparticipants=true" in message and "ongoingdate=" in message
    assert "HTTP 400" in message and "error code InvalidParameter: enddate 'x' is not a date" in message
    assert DEMO_API_KEY not in message
    assert _row_counts(warehouse) == counts
    _run(brp_server, tmp_path)  # the next run catches up
    _assert_matches_api(warehouse, brp_server)


def test_xml_that_stays_malformed_fails_naming_the_request_and_loses_nothing(brp_server, tmp_path):
    warehouse = _run(brp_server, tmp_path)
    counts = _row_counts(warehouse)
    _advance(brp_server)
    brp_server.app.break_next(times=RetryPolicy().attempts)

    # One window at a time, so every broken answer is the same request's attempts.
    error = _failure(brp_server, tmp_path, max_in_flight=1)

    assert isinstance(error, VendorResponseError)
    assert str(error).startswith("BRP GET /events.xml?") and "malformed XML after" in str(error)
    assert f"gave up after {RetryPolicy().attempts} attempts" in str(error)
    assert _row_counts(warehouse) == counts


def test_xml_cut_short_once_is_read_again_and_nothing_is_lost_or_doubled(brp_server, tmp_path):
    _run(brp_server, tmp_path)
    _advance(brp_server)
    brp_server.app.break_next()

    warehouse = _run(brp_server, tmp_path)

    _assert_matches_api(warehouse, brp_server)
    [(rows, distinct)] = query(warehouse, "select count(*), count(distinct id) from raw_brp.events")
    assert rows == distinct


def test_a_wrong_api_key_fails_at_once_without_showing_it(brp_server, tmp_path):
    served = brp_server.app.requests_served
    # One window at a time: a retry would be a second request.
    error = _failure(brp_server, tmp_path, api_key=WRONG_KEY, max_in_flight=1)
    assert isinstance(error, VendorAuthError)
    assert "BRP GET /events.xml" in str(error) and "ApiKeyInvalid" in str(error)
    assert WRONG_KEY not in str(error)
    assert brp_server.app.requests_served - served == 1  # a rejected key is never retried


def test_business_units_narrow_the_read(brp_server, tmp_path):
    api = crawl(brp_server.base_url, DEMO_API_KEY)
    unit = sorted({fields["businessunit__id"] for fields in api.events.values()})[0]
    warehouse = _run(brp_server, tmp_path, business_unit_ids=unit)
    loaded = {row[0] for row in query(warehouse, "select id from raw_brp.events")}
    assert loaded == {event_id for event_id, fields in api.events.items() if fields["businessunit__id"] == unit}

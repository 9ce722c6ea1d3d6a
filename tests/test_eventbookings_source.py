"""The EventBookings source on its own: the token flow, pagination bounds and incremental reads."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dlt
import duckdb
import httpx
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.eventbookings import api_client, eventbookings_source
from pipelines.eventbookings.helpers import (
    EVENT_DATES,
    clean_ticket,
    page_rows,
    paginate,
    paginate_ahead,
    split_url,
)
from pipelines.http import (
    RetryPolicy,
    VendorAuthError,
    VendorClient,
    VendorResponseError,
    vendor_error_behind,
)
from sandboxes.eventbookings import EventBookingsSandbox
from sandboxes.faults import FaultPlan
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.eventbookings_crawl import crawl

WRONG_SECRET = "wrong-secret-Zq81xT"


def _settings(server: SandboxServer) -> dict[str, str]:
    return server.app.settings(server.base_url)


def _source(server: SandboxServer, **overrides):
    settings = _settings(server)
    arguments = {
        "base_url": settings["SOURCES__EVENTBOOKINGS__BASE_URL"],
        "token_url": settings["SOURCES__EVENTBOOKINGS__TOKEN_URL"],
        "client_id": settings["SOURCES__EVENTBOOKINGS__CLIENT_ID"],
        "client_secret": settings["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"],
        "as_of": server.app.today.isoformat(),
        **overrides,
    }
    return eventbookings_source(**arguments)


def _run(server: SandboxServer, tmp_path: Path, **overrides) -> Path:
    warehouse = tmp_path / "eventbookings.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="eventbookings_test",
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="raw_eventbookings",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run(_source(server, **overrides), loader_file_format="parquet")
    return warehouse


def _stored(warehouse: Path) -> dict[str, set]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        def keys(sql: str) -> set:
            return set(con.execute(sql).fetchall())

        return {
            "events": {row[0] for row in keys("select uuid from raw_eventbookings.events")},
            "orders": {row[0] for row in keys("select uuid from raw_eventbookings.orders")},
            "attendees": keys("select event_uuid, uuid from raw_eventbookings.attendees "
                              "where _dlt_valid_to is null"),
        }


def _assert_matches_api(warehouse: Path, server: SandboxServer) -> None:
    api = crawl(_settings(server))
    stored = _stored(warehouse)
    assert stored["events"] == api.events
    assert stored["orders"] == set(api.orders)
    assert stored["attendees"] == api.attendees


# --- token flow -------------------------------------------------------------------------------


def test_one_token_serves_the_whole_run(eventbookings_server, tmp_path):
    warehouse = _run(eventbookings_server, tmp_path)
    _assert_matches_api(warehouse, eventbookings_server)
    # The crawl took one token of its own.
    assert eventbookings_server.app.tokens_issued == 2
    assert eventbookings_server.app.requests_served > 50


def test_a_token_lifetime_shorter_than_the_run_loses_nothing(tmp_path):
    app = EventBookingsSandbox(seed=7, scale="small", start_date=SANDBOX_START, token_lifetime=0.4)
    # Latency stretches the run over several token lifetimes; one request in flight at a time.
    with SandboxServer(app, latency=0.02) as server:
        warehouse = _run(server, tmp_path, max_in_flight=1)
        issued_by_run = app.tokens_issued
        _assert_matches_api(warehouse, server)
    assert issued_by_run >= 3


def test_a_401_fetches_a_new_token_and_repeats_the_request(eventbookings_server):
    app = eventbookings_server.app
    client = api_client(**_client_settings(eventbookings_server), max_in_flight=1)
    first = client.get_json("/events", {"rows": 20})
    app.revoke_tokens()
    again = client.get_json("/events", {"rows": 20})
    assert again == first
    assert app.tokens_issued == 2


def test_a_token_answer_cut_short_is_asked_for_again_and_never_quoted(eventbookings_server, caplog):
    caplog.set_level(logging.DEBUG)
    app = eventbookings_server.app
    expected = api_client(**_client_settings(eventbookings_server), max_in_flight=1).get_json("/events", {"rows": 20})
    # Seed 1 at rate 0.5 cuts short the first two token answers, then the first page.
    eventbookings_server.set_faults(FaultPlan(rate=0.5, kinds=("truncated",), seed=1))
    client = api_client(**_client_settings(eventbookings_server), max_in_flight=1)

    assert client.get_json("/events", {"rows": 20}) == expected
    assert eventbookings_server.faults.injected == {"truncated": 3}
    assert app.tokens_issued == 4  # the first client's, two cut short, the one used
    assert "POST /connect/token: attempt 2/6 failed (response is not valid JSON" in caplog.text
    assert "access_token" not in caplog.text
    for token in app.recent_tokens:
        assert token[:12] not in caplog.text


def test_tokens_revoked_during_a_run_lose_no_page(tmp_path):
    app = EventBookingsSandbox(seed=7, scale="small", start_date=SANDBOX_START)
    stop = threading.Event()

    def revoke_now_and_then() -> None:
        while not stop.wait(0.25):
            app.revoke_tokens()

    revoker = threading.Thread(target=revoke_now_and_then)
    # Latency keeps the run going across several revocations.
    with SandboxServer(app, latency=0.02) as server:
        revoker.start()
        try:
            warehouse = _run(server, tmp_path, max_in_flight=2)
        finally:
            stop.set()
            revoker.join()
        issued_by_run = app.tokens_issued
        _assert_matches_api(warehouse, server)
    assert issued_by_run >= 3


def test_a_wrong_secret_fails_fast_naming_eventbookings_and_never_the_secret(
    eventbookings_server, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PipelineStepFailed) as failure:
        _run(eventbookings_server, tmp_path, client_secret=WRONG_SECRET)
    cause = vendor_error_behind(failure.value)
    assert isinstance(cause, VendorAuthError)
    message = str(cause)
    assert message.startswith("EventBookings POST /connect/token: client credentials rejected")
    assert "invalid_client" in message
    assert eventbookings_server.app.requests_served == 0  # no API call was attempted
    for text in (message, str(failure.value), caplog.text):
        assert WRONG_SECRET not in text


def test_the_token_endpoint_is_asked_once_for_a_rejected_secret(eventbookings_server):
    settings = _client_settings(eventbookings_server)
    client = api_client(**{**settings, "client_secret": WRONG_SECRET}, max_in_flight=1)
    with pytest.raises(VendorAuthError):
        client.get_json("/events")
    assert eventbookings_server.app.tokens_issued == 0


# --- pagination and payload quirks --------------------------------------------------------------


def _client_settings(server: SandboxServer) -> dict[str, str]:
    settings = _settings(server)
    return {
        "base_url": settings["SOURCES__EVENTBOOKINGS__BASE_URL"],
        "token_url": settings["SOURCES__EVENTBOOKINGS__TOKEN_URL"],
        "client_id": settings["SOURCES__EVENTBOOKINGS__CLIENT_ID"],
        "client_secret": settings["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"],
    }


def test_page_sizes_stay_within_the_documented_bounds():
    assert [page_rows(n) for n in (1, 19, 20, 57, 100, 101, 5000)] == [20, 20, 20, 57, 100, 100, 100]


@pytest.mark.parametrize("rows", [5, 20, 33, 100, 5000])
def test_any_page_size_reads_every_event_once(eventbookings_server, rows):
    client = api_client(**_client_settings(eventbookings_server), max_in_flight=1)
    pages = list(paginate(client, "/events", "events", rows=page_rows(rows)))
    uuids = [event["uuid"] for page in pages for event in page]
    assert len(uuids) == len(set(uuids)) == len(crawl(_settings(eventbookings_server)).events)
    assert all(len(page) <= page_rows(rows) for page in pages)


def _fake(handler) -> VendorClient:
    return VendorClient("eventbookings", "EventBookings", "http://eb.test",
                        transport=httpx.MockTransport(handler), retry=RetryPolicy(attempts=1))


def test_paginate_trusts_the_records_count_sent_as_a_string():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        position = int(parse_qs(urlsplit(str(request.url)).query)["position"][0])
        calls.append(position)
        page = [{"uuid": str(i)} for i in range(position, min(position + 20, 40))]
        return httpx.Response(200, json={"orders": page, "pagination": {
            "records": "40", "position": str(position), "rows": "20", "order_by": ""}})

    pages = list(paginate(_fake(handler), "/events/e/orders", "orders", rows=20))
    assert [len(page) for page in pages] == [20, 20]
    assert calls == [0, 20]  # no third request for an empty page


class GrowingList:
    """A list endpoint of `records` events that grows by `grows_by` after its first page,
    recording the positions asked for and how many requests were open at once."""

    def __init__(self, records: int, grows_by: int = 0, send_records: bool = True, delay: float = 0.02):
        self.records, self.grows_by, self.send_records, self.delay = records, grows_by, send_records, delay
        self.positions: list[int] = []
        self.open = self.most_open = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        position, rows = int(query["position"][0]), int(query["rows"][0])
        with self.lock:
            self.positions.append(position)
            self.open += 1
            self.most_open = max(self.most_open, self.open)
            total = self.records + (self.grows_by if len(self.positions) > 1 else 0)
        threading.Event().wait(self.delay)
        with self.lock:
            self.open -= 1
        page = [{"uuid": str(i)} for i in range(position, min(position + rows, total))]
        pagination = {"records": str(total), "position": str(position), "rows": str(rows)} if self.send_records else {}
        return httpx.Response(200, json={"events": page, "pagination": pagination})


def _ahead_client(handler, max_in_flight: int = 16) -> VendorClient:
    return VendorClient("eventbookings", "EventBookings", "http://eb.test", max_in_flight=max_in_flight,
                        transport=httpx.MockTransport(handler), retry=RetryPolicy(attempts=1))


def test_reading_ahead_yields_every_page_in_order_with_a_few_in_flight():
    listing = GrowingList(records=950)
    pages = list(paginate_ahead(_ahead_client(listing), "/events", "events", rows=100, pages_ahead=4))
    assert [record["uuid"] for page in pages for record in page] == [str(i) for i in range(950)]
    assert sorted(listing.positions) == list(range(0, 1000, 100))  # each page once, none past the end
    assert 1 < listing.most_open <= 4


def test_a_list_of_whole_pages_is_read_without_asking_past_its_end():
    listing = GrowingList(records=400)
    pages = list(paginate_ahead(_ahead_client(listing), "/events", "events", rows=100))
    assert [len(page) for page in pages] == [100, 100, 100, 100]
    assert sorted(listing.positions) == [0, 100, 200, 300]


def test_events_added_while_the_list_is_read_ahead_are_read_too():
    listing = GrowingList(records=300, grows_by=150)
    pages = list(paginate_ahead(_ahead_client(listing), "/events", "events", rows=100))
    assert [record["uuid"] for page in pages for record in page] == [str(i) for i in range(450)]
    assert sorted(listing.positions) == [0, 100, 200, 300, 400]


def test_a_list_without_a_records_count_is_read_page_by_page():
    listing = GrowingList(records=250, send_records=False)
    pages = list(paginate_ahead(_ahead_client(listing), "/events", "events", rows=100))
    assert [len(page) for page in pages] == [100, 100, 50]
    assert listing.positions == [0, 100, 200] and listing.most_open == 1


def test_a_bad_page_read_ahead_names_its_position():
    def handler(request: httpx.Request) -> httpx.Response:
        position = int(parse_qs(urlsplit(str(request.url)).query)["position"][0])
        page = [{"uuid": str(i)} for i in range(position, position + 20)]
        if position == 60:
            page[3] = {"name": "no uuid"}
        return httpx.Response(200, json={"events": page, "pagination": {"records": "200"}})

    with pytest.raises(VendorResponseError) as error:
        list(paginate_ahead(_ahead_client(handler), "/events", "events", rows=20))
    assert str(error.value) == ("EventBookings GET /events: 'events' page at position 60, "
                                "record 4: required key field 'uuid' is missing")


def test_a_record_without_uuid_names_vendor_endpoint_page_record_and_field():
    client = _fake(lambda request: httpx.Response(200, json={"attendees": [{"uuid": "a"}, {"name": "x"}]}))
    with pytest.raises(VendorResponseError) as error:
        list(paginate(client, "/events/abc/attendees", "attendees"))
    assert str(error.value) == ("EventBookings GET /events/abc/attendees: 'attendees' page at position 0, "
                                "record 2: required key field 'uuid' is missing")


def test_a_null_uuid_and_an_unreadable_date_are_named_too():
    client = _fake(lambda request: httpx.Response(200, json={"events": [{"uuid": None}]}))
    with pytest.raises(VendorResponseError, match="record 1: key field 'uuid' is null"):
        list(paginate(client, "/events", "events"))
    event = {"uuid": "e1", "updated_on": "2026-03-01 10:00:00", "attending_on": [{"utc": "31/02/2026 25:61"}]}
    client = _fake(lambda request: httpx.Response(200, json={"events": [event]}))
    with pytest.raises(VendorResponseError) as error:
        list(paginate(client, "/events", "events", dates=EVENT_DATES))
    assert str(error.value) == ("EventBookings GET /events: 'events' page at position 0, record 1: "
                                "(uuid='e1') field 'attending_on' does not parse as a date/time: "
                                "[{'utc': '31/02/2026 25:61'}]")


def test_sessions_are_flattened_out_of_their_groups_keeping_their_type():
    payload = {"sessions": [
        {"type": "required", "session_lists": [{"uuid": "s1"}, {"uuid": "s2"}]},
        {"type": "optional", "session_lists": [{"uuid": "s3"}]},
    ], "pagination": {"records": "3"}}
    client = _fake(lambda request: httpx.Response(200, json=payload))
    (page,) = list(paginate(client, "/events/e/sessions", "sessions", rows=20))
    assert [(s["uuid"], s["type"]) for s in page] == [("s1", "required"), ("s2", "required"), ("s3", "optional")]


def test_a_donation_tickets_single_pricing_object_becomes_a_list():
    donation = {"uuid": "t", "category": "donation", "pricing_details": {"uuid": "p", "quantity_included": "1"}}
    assert clean_ticket(donation)["pricing_details"] == [{"uuid": "p", "quantity_included": "1"}]
    assert clean_ticket({"uuid": "t"})["pricing_details"] == []


def test_the_token_url_is_split_into_its_host_and_path():
    assert split_url("https://identity.eventbookings.com/connect/token") == (
        "https://identity.eventbookings.com", "/connect/token")
    with pytest.raises(ValueError):
        split_url("connect/token")


# --- incremental reads --------------------------------------------------------------------------


def test_days_of_change_are_followed_and_nothing_ever_listed_is_lost(eventbookings_server, tmp_path):
    server = eventbookings_server
    _run(server, tmp_path)
    ever_listed = crawl(_settings(server)).attendees
    for _ in range(3):
        httpx.post(f"{server.base_url}/_sandbox/advance", params={"days": 1}).raise_for_status()
        warehouse = _run(server, tmp_path)
        _assert_matches_api(warehouse, server)
        ever_listed |= crawl(_settings(server)).attendees
    with duckdb.connect(str(warehouse), read_only=True) as con:
        every_version = set(con.execute(
            "select event_uuid, uuid from raw_eventbookings.attendees").fetchall())
        refunded = con.execute(
            "select count(*) from raw_eventbookings.orders where status <> 'completed'").fetchone()[0]
    assert every_version == ever_listed
    assert refunded > 0


def test_a_second_run_on_the_same_day_reads_only_the_active_window(eventbookings_server, tmp_path):
    _run(eventbookings_server, tmp_path)
    first_run_requests = eventbookings_server.app.requests_served
    _run(eventbookings_server, tmp_path)
    second_run_requests = eventbookings_server.app.requests_served - first_run_requests
    assert second_run_requests < first_run_requests

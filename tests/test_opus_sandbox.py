"""The OPUS DX sandbox over real HTTP: protocol, documented quirks, paging, clock."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandboxes.opus import DEMO_API_KEY, SCALES, OpusSandbox
from sandboxes.server import SandboxApp, SandboxResponse, SandboxServer, synchronized
from tests.sandbox_client import SandboxClient, serving

START = dt.date(2026, 5, 1)
KEY = DEMO_API_KEY
EVENTS = "/rest/api/v1/events"
SPEAKERS = "/rest/opus/api/v1/events/speakers"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
HMS = re.compile(r"(\d{2,}):(\d{2}):(\d{2})")
HMS_LETTERS = re.compile(r"(\d{2,})h (\d{2})m (\d{2})s")

# path -> (documented default limit, maximum)
LIMITS = {
    EVENTS: (50, 1000),
    f"{EVENTS}/user": (50, 1000),
    SPEAKERS: (10, 50),
    f"{EVENTS}/registrants": (50, 1000),
    f"{EVENTS}/attendees": (50, 1000),
    f"{EVENTS}/sessions": (50, 1000),
    f"{EVENTS}/sessionattendance": (50, 1000),
    f"{EVENTS}/sessionitineraries": (10, 1000),
    f"{EVENTS}/sessionondemand": (10, 1000),
    f"{EVENTS}/packages": (50, 1000),
}

EVENT_KEYS = {
    "id", "api_key", "name", "template", "type", "category", "slug", "Icon", "banner", "description",
    "start_date", "end_date", "timezone", "url", "registration_questions",
}
USER_EVENT_KEYS = {
    "id", "api_key", "name", "type", "slug", "Icon", "banner", "description", "start_date", "end_date", "url",
}
REGISTRANT_KEYS = {
    "user_id", "email", "registration_id", "user-prefix", "user-first_name", "user-middle_name",
    "user-last_name", "user-suffix", "user-credentials", "user-title", "user-company", "user-address_1",
    "user-address_2", "user-city", "user-state", "user-zip_code", "user-country", "user-phone",
    "user-image_url", "user-member_number", "user-api_username", "user-designation", "member", "source",
    "registered", "attributes", "packages", "questions", "access_codes",
}
ATTENDEE_KEYS = {
    "id", "email", "first_name", "last_name", "middle_name", "api_username", "title", "company", "image_url",
    "alertness", "alertness_issued", "alertness_required", "total_time", "total_seconds",
}
SESSION_ATTENDANCE_KEYS = {
    "user_id", "product_title", "product_identification", "email", "first_name", "last_name", "middle_name",
    "api_username", "title", "company", "image_url", "alertness", "alertness_issued", "alertness_required",
    "total_time", "total_seconds",
}
SESSION_KEYS = {
    "id", "product_id", "api_key", "reference_id", "identification", "title", "start_date_time",
    "end_date_time", "description", "speaker_ids", "ce", "prices", "alertness_issued", "alertness_required",
    "parent_product_id", "session_type", "session_category", "session_track", "session_room",
    "session_facility", "options",
}
SPEAKER_KEYS = {
    "id", "salutation", "first_name", "Middle_name", "last_name", "credentials", "company", "title", "Icon",
    "description", "email", "identification", "created_at", "updated_at", "suffix", "api_key",
}
PACKAGE_KEYS = {
    "product_id", "identification", "api_key", "name", "start_date_time", "end_date_time", "package_type",
    "package_category", "prices",
}
EVENT_BLOCK_KEYS = {"event_name", "event_api_key", "event_type", "event_category"}


# ---- fixtures -------------------------------------------------------------


class Api(SandboxClient):
    """A client for one sandbox server that adds the API key."""

    def __init__(self, server: SandboxServer, key: str = KEY) -> None:
        super().__init__(server, timeout=10)
        self.app: OpusSandbox = server.app  # type: ignore[assignment]
        self.key = key

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={"api_key": self.key, **params})

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.request(method, path, json={"api_key": self.key, **body})


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A read-only sandbox shared by the tests that do not change it."""
    with SandboxServer(OpusSandbox(seed=1, scale="small", start_date=START)) as server:
        client = Api(server)
        yield client
        client.close()


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    """Fresh sandboxes for tests that move the clock or write."""
    def make(seed: int = 1, scale: str = "small", key: str = KEY) -> Api:
        app = OpusSandbox(seed=seed, scale=scale, start_date=START, api_key=key)
        return serve(app, lambda server: Api(server, key))

    with serving() as serve:
        yield make


def _ended_event(api: Api) -> str:
    """The past event with the most registrants (it has attendance)."""
    ended = api.app.event_ids(ended=True)
    return max(ended, key=lambda e: api.json(f"{EVENTS}/registrants", event_id=e, limit=1)["total records"])


def _upcoming_event(api: Api) -> str:
    return api.app.event_ids(ended=False)[-1]


def _all_pages(api: Api, path: str, rows_key: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Follow limit/offset until a short page, as a client would."""
    rows, offset = [], 0
    while True:
        body = api.json(path, limit=limit, offset=offset, **params)
        page = body[0][rows_key] if isinstance(body, list) else body[rows_key]
        rows.extend(page)
        if len(page) < limit:
            return rows
        offset += limit


# ---- authentication and errors ----------------------------------------------


@pytest.mark.parametrize("path", list(LIMITS))
def test_missing_or_wrong_api_key_is_401(api: Api, path: str) -> None:
    event_id = api.app.event_ids()[0]
    for params in ({"event_id": event_id, "user_id": "100000"},
                   {"event_id": event_id, "user_id": "100000", "api_key": "wrong"}):
        response = api.http.get(path, params=params)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/json")
        assert "error" in response.json()


def test_write_calls_need_the_key_too(api: Api) -> None:
    for method, name in (("POST", "register"), ("PUT", "modify_registration"), ("DELETE", "cancel_registration")):
        response = api.http.request(method, f"{EVENTS}/{name}", json={"api_key": "nope", "user_id": "100000"})
        assert response.status_code == 401


def test_api_key_never_appears_in_server_output(make_api: Callable[..., Api], capfd: pytest.CaptureFixture[str]) -> None:
    secret = "s3cret-opus-key-4711"
    client = make_api(key=secret)
    event_id = client.app.event_ids()[0]
    client.get(EVENTS)
    client.get(f"{EVENTS}/registrants", event_id=event_id)
    client.http.get(EVENTS, params={"api_key": secret + "x"})
    client.get("/rest/api/v1/nowhere")
    client.send("DELETE", f"{EVENTS}/cancel_registration", {"user_id": "1", "event_id": event_id})
    client.http.post("/_sandbox/advance", params={"days": 1, "api_key": secret})
    out, err = capfd.readouterr()
    assert secret not in out and secret not in err


def test_unknown_path_and_wrong_method(api: Api) -> None:
    assert api.get("/rest/api/v1/nowhere").status_code == 404
    assert api.http.post(EVENTS, params={"api_key": KEY}).status_code == 405


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (f"{EVENTS}/registrants", {}, "event_id"),
        (f"{EVENTS}/attendees", {}, "event_id"),
        (f"{EVENTS}/packages", {}, "event_id"),
        (f"{EVENTS}/sessionondemand", {}, "event_id"),
        (f"{EVENTS}/sessions", {"event_api_key": "evt-1001"}, "event_id"),
        (SPEAKERS, {}, "event_id"),
        (f"{EVENTS}/user", {}, "user_id"),
        (EVENTS, {"start_date": "2026/05/01"}, "start_date"),
        (EVENTS, {"end_date": "yesterday"}, "end_date"),
        (EVENTS, {"start_date": "2026-05-01", "date_filter_type": "deleted_at"}, "date_filter_type"),
        (EVENTS, {"limit": "ten"}, "limit"),
        (EVENTS, {"limit": "0"}, "limit"),
        (EVENTS, {"offset": "-1"}, "offset"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api: Api, path: str, params: dict[str, str], parameter: str) -> None:
    response = api.get(path, **params)
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter


def test_unknown_event_is_an_empty_list(api: Api) -> None:
    body = api.json(f"{EVENTS}/registrants", event_id="999999")
    assert body["total records"] == 0 and body["registrants"] == []
    assert set(body["event"]) == EVENT_BLOCK_KEYS
    assert api.json(EVENTS, event_id="999999")[0]["total_records"] == "0"
    assert api.json(f"{EVENTS}/sessionattendance", event_api_key="nope")["total_records"] == 0


# ---- documented shapes and quirks -------------------------------------------


def test_events_are_wrapped_in_an_array_with_string_numbers(api: Api) -> None:
    body = api.json(EVENTS)
    assert isinstance(body, list) and len(body) == 1
    envelope = body[0]
    assert envelope["total_records"] == str(len(api.app.event_ids()))
    assert (envelope["limit"], envelope["offset"]) == ("50", "0")
    event = envelope["events"][0]
    assert set(event) == EVENT_KEYS
    assert event["id"].isdigit()
    assert TIMESTAMP.fullmatch(event["start_date"]) and TIMESTAMP.fullmatch(event["end_date"])
    ZoneInfo(event["timezone"])
    assert "created_at" not in event and "updated_at" not in event
    questions = event["registration_questions"]
    assert isinstance(questions, dict) and questions
    for question_id, question in questions.items():
        assert question["id"] == question_id
        assert question["required"] in ("0", "1")
        assert all(set(a) == {"answer_id", "value", "display_order"} for a in question["answers"])


def test_single_event_by_id_or_api_key(api: Api) -> None:
    event = api.json(EVENTS)[0]["events"][3]
    by_id = api.json(EVENTS, event_id=event["id"])[0]
    by_key = api.json(EVENTS, event_api_key=event["api_key"])[0]
    assert by_id["events"] == by_key["events"] == [event]
    assert api.json(EVENTS, event_id=event["id"], event_api_key="other")[0]["events"] == []


def test_user_events(api: Api) -> None:
    event_id = _ended_event(api)
    registrant = api.json(f"{EVENTS}/registrants", event_id=event_id)["registrants"][0]
    body = api.json(f"{EVENTS}/user", user_id=registrant["user_id"])
    assert isinstance(body, list)
    events = body[0]["events"]
    assert body[0]["total_records"] == str(len(events)) and events
    assert all(set(e) == USER_EVENT_KEYS for e in events)
    for event in events:
        ids = [r["user_id"] for r in _all_pages(api, f"{EVENTS}/registrants", "registrants", 1000, event_id=event["id"])]
        assert registrant["user_id"] in ids
    # The filter compares the registration date in the event's time zone: a window of
    # one day either side of the UTC date holds it, a window after it does not.
    day = dt.date.fromisoformat(registrant["registered"][:10])
    around = api.json(
        f"{EVENTS}/user", user_id=registrant["user_id"],
        start_date=(day - dt.timedelta(days=1)).isoformat(), end_date=(day + dt.timedelta(days=1)).isoformat(),
    )[0]["events"]
    assert event_id in {e["id"] for e in around}
    after = api.json(f"{EVENTS}/user", user_id=registrant["user_id"], start_date=(day + dt.timedelta(days=2)).isoformat())
    assert event_id not in {e["id"] for e in after[0]["events"]}
    assert api.json(f"{EVENTS}/user", user_id="1")[0]["total_records"] == "0"


def test_speakers_on_both_paths(api: Api) -> None:
    event_id = _ended_event(api)
    body = api.json(SPEAKERS, event_id=event_id)
    assert body == api.json("/rest/api/v1/events/speakers", event_id=event_id)
    assert isinstance(body["total_records"], str)
    assert (body["limit"], body["offset"]) == (10, 0)
    assert all(set(s) == SPEAKER_KEYS for s in body["speakers"])
    session_speakers = {sid for s in api.json(f"{EVENTS}/sessions", event_id=event_id)["sessions"] for sid in s["speaker_ids"]}
    all_speakers = _all_pages(api, SPEAKERS, "speakers", 50, event_id=event_id)
    assert {s["id"] for s in all_speakers} == session_speakers
    assert int(body["total_records"]) == len(session_speakers)


def test_registrants_shape(api: Api) -> None:
    event_id = _ended_event(api)
    body = api.json(f"{EVENTS}/registrants", event_id=event_id)
    assert "total records" in body and "total_records" not in body
    assert isinstance(body["total records"], int)
    assert (body["limit"], body["offset"]) == (50, 0)
    assert set(body["event"]) == EVENT_BLOCK_KEYS
    for row in body["registrants"]:
        assert set(row) == REGISTRANT_KEYS
        assert row["user_id"].isdigit() and row["registration_id"].isdigit()
        assert row["member"] in ("0", "1")
        assert TIMESTAMP.fullmatch(row["registered"])
        assert row["attributes"] == []
        assert set(row["access_codes"]) == {"accesscode_used", "accesscode_description"}
        for package in row["packages"]:
            assert set(package) == {"id", "identification", "api_key", "name", "package_type"}
    packages = api.json(f"{EVENTS}/packages", event_id=event_id)["data"]
    package_ids = {p["product_id"] for p in packages}
    assert {p["id"] for row in body["registrants"] for p in row["packages"]} <= package_ids


def test_some_emails_need_normalising(api: Api) -> None:
    emails = {
        row["user_id"]: row["email"]
        for event_id in api.app.event_ids()
        for row in _all_pages(api, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id)
    }
    messy = [e for e in emails.values() if e != e.strip().lower()]
    assert messy and len(messy) < len(emails) * 0.2
    normalised = {e.strip().lower() for e in emails.values()}
    assert len(normalised) == len(emails)


def test_attendees_shape(api: Api) -> None:
    body = api.json(f"{EVENTS}/attendees", event_id=_ended_event(api))
    assert all(isinstance(body[k], str) for k in ("total_records", "limit", "offset"))
    assert body["attendees"]
    for row in body["attendees"]:
        assert set(row) == ATTENDEE_KEYS
        assert all(isinstance(v, str) for v in row.values())
        hours, minutes, seconds = map(int, HMS.fullmatch(row["total_time"]).groups())
        assert hours * 3600 + minutes * 60 + seconds == int(row["total_seconds"])


def test_sessions_shape(api: Api) -> None:
    body = api.json(f"{EVENTS}/sessions", event_id=_ended_event(api))
    assert isinstance(body["total records"], int) and body["limit"] == "50" and body["offset"] == 0
    for session in body["sessions"]:
        assert set(session) == SESSION_KEYS
        assert session["id"].isdigit() and session["product_id"].isdigit()
        assert TIMESTAMP.fullmatch(session["start_date_time"]) and TIMESTAMP.fullmatch(session["end_date_time"])
        assert isinstance(session["speaker_ids"], dict)
        assert all(set(v) == {"distinction"} for v in session["speaker_ids"].values())
        assert set(session["ce"]) == {"test_id", "credits", "expiration_date", "active"}
        assert all(set(p) == {"type", "price", "group_id", "group_name"} for p in session["prices"])
        assert session["parent_product_id"] == "0" and session["options"] == []
        assert int(session["alertness_issued"]) > 0  # ended sessions report what was issued
    upcoming = api.json(f"{EVENTS}/sessions", event_id=_upcoming_event(api))["sessions"]
    assert all(s["alertness_issued"] == "0" for s in upcoming)


def test_session_attendance_shape(api: Api) -> None:
    event_id = _ended_event(api)
    body = api.json(f"{EVENTS}/sessionattendance", event_id=event_id)
    assert all(isinstance(body[k], int) for k in ("total_records", "limit", "offset"))
    sessions = api.json(f"{EVENTS}/sessions", event_id=event_id)["sessions"]
    identifications = [s["identification"] for s in sessions]
    assert len(set(identifications)) == len(identifications)
    lengths = {
        s["identification"]: (dt.datetime.fromisoformat(s["end_date_time"]) - dt.datetime.fromisoformat(s["start_date_time"])).seconds
        for s in sessions
    }
    for row in body["attendees"]:
        assert set(row) == SESSION_ATTENDANCE_KEYS
        assert all(isinstance(v, str) for v in row.values())
        hours, minutes, seconds = map(int, HMS_LETTERS.fullmatch(row["total_time"]).groups())
        assert hours * 3600 + minutes * 60 + seconds == int(row["total_seconds"])
        assert 0 < int(row["total_seconds"]) <= lengths[row["product_identification"]]
        assert int(row["alertness"]) <= int(row["alertness_issued"])


def test_attendance_is_between_60_and_80_percent_for_past_events(api: Api) -> None:
    registrants = attendees = 0
    for event_id in api.app.event_ids(ended=True):
        registrants += api.json(f"{EVENTS}/registrants", event_id=event_id, limit=1)["total records"]
        attendees += int(api.json(f"{EVENTS}/attendees", event_id=event_id, limit=1)["total_records"])
    assert 0.5 <= attendees / registrants <= 0.9
    for event_id in api.app.event_ids(ended=False):
        assert api.json(f"{EVENTS}/attendees", event_id=event_id)["total_records"] == "0"


def test_session_attendance_filters(api: Api) -> None:
    event_id = _ended_event(api)
    sessions = api.json(f"{EVENTS}/sessions", event_id=event_id)["sessions"]
    all_rows = _all_pages(api, f"{EVENTS}/sessionattendance", "attendees", 1000, event_id=event_id)
    counted = 0
    for session in sessions:
        by_id = _all_pages(api, f"{EVENTS}/sessionattendance", "attendees", 1000, session_id=session["id"])
        by_reference = _all_pages(
            api, f"{EVENTS}/sessionattendance", "attendees", 1000,
            event_id=event_id, session_reference_id=session["reference_id"],
        )
        assert by_id == by_reference
        assert {r["product_identification"] for r in by_id} <= {session["identification"]}
        counted += len(by_id)
    assert counted == len(all_rows)


def test_itineraries_and_on_demand_shape(api: Api) -> None:
    event_id = _ended_event(api)
    itineraries = api.json(f"{EVENTS}/sessionitineraries", event_id=event_id)
    assert (itineraries["limit"], itineraries["offset"]) == (10, 0)
    assert isinstance(itineraries["total_records"], int)
    for session in itineraries["data"]:
        assert "itinerary_users_list" in session
        assert all(set(u) == {"id", "first_name", "last_name", "api_username", "email"} for u in session["itinerary_users_list"])
    on_demand = api.json(f"{EVENTS}/sessionondemand", event_id=event_id)
    assert (on_demand["limit"], on_demand["offset"]) == (10, 0)
    assert on_demand["total_records"] == len(on_demand["data"]) > 0
    for session in on_demand["data"]:
        assert {"product_id", "session_id", "total_views", "total_time", "users"} <= set(session)
        assert HMS.fullmatch(session["total_time"])
        assert int(session["total_views"]) == sum(int(u["total_playing_time"]) for u in session["users"])
    one = on_demand["data"][0]
    only = api.json(f"{EVENTS}/sessionondemand", event_id=event_id, session_id=one["session_id"])["data"]
    assert only == [one]


def test_registrants_of_a_session_are_its_itinerary(api: Api) -> None:
    event_id = _ended_event(api)
    session = api.json(f"{EVENTS}/sessionitineraries", event_id=event_id, limit=1)["data"][0]
    on_itinerary = {u["id"] for u in session["itinerary_users_list"]}
    registrants = _all_pages(api, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id, session_id=session["id"])
    assert {r["user_id"] for r in registrants} == on_itinerary


def test_packages_shape(api: Api) -> None:
    body = api.json(f"{EVENTS}/packages", event_api_key=api.json(EVENTS)[0]["events"][0]["api_key"])
    assert isinstance(body["total records"], int) and (body["limit"], body["offset"]) == (50, 0)
    assert set(body["event"]) == EVENT_BLOCK_KEYS
    for package in body["data"]:
        assert set(package) == PACKAGE_KEYS
        assert all(set(price) == {"type", "price", "group_id", "Group_name"} for price in package["prices"])


# ---- limits and paging -------------------------------------------------------


def _params_for(api: Api, path: str) -> dict[str, str]:
    if path.endswith("/user"):
        person = api.json(f"{EVENTS}/registrants", event_id=_ended_event(api), limit=1)["registrants"][0]
        return {"user_id": person["user_id"]}
    return {} if path == EVENTS else {"event_id": _ended_event(api)}


def _echo(body: Any) -> tuple[int, int]:
    envelope = body[0] if isinstance(body, list) else body
    return int(envelope["limit"]), int(envelope["offset"])


@pytest.mark.parametrize(("path", "limits"), list(LIMITS.items()))
def test_default_and_maximum_limits(api: Api, path: str, limits: tuple[int, int]) -> None:
    default, maximum = limits
    params = _params_for(api, path)
    assert _echo(api.json(path, **params)) == (default, 0)
    assert _echo(api.json(path, limit=maximum + 500, offset=3, **params)) == (maximum, 3)


@pytest.mark.parametrize(
    ("path", "rows_key", "scope"),
    [
        (f"{EVENTS}/registrants", "registrants", "event"),
        (f"{EVENTS}/attendees", "attendees", "event"),
        (f"{EVENTS}/sessionattendance", "attendees", "event"),
        (f"{EVENTS}/sessionattendance", "attendees", "all"),
        (f"{EVENTS}/sessionitineraries", "data", "all"),
        (EVENTS, "events", "all"),
    ],
)
def test_offset_paging_covers_every_row_once(api: Api, path: str, rows_key: str, scope: str) -> None:
    params = {"event_id": _ended_event(api)} if scope == "event" else {}
    whole = _all_pages(api, path, rows_key, 1000, **params)
    paged = _all_pages(api, path, rows_key, 7, **params)
    assert paged == whole and len(whole) > 7
    keys = [json.dumps(row, sort_keys=True) for row in paged]
    assert len(set(keys)) == len(keys)
    body = api.json(path, limit=1, **params)
    total = (body[0] if isinstance(body, list) else body).get("total_records", None)
    if total is None:
        total = body["total records"]
    assert int(total) == len(whole)


# ---- date filters --------------------------------------------------------------


def test_event_date_filters(api: Api) -> None:
    events = api.json(EVENTS, limit=1000)[0]["events"]
    since, until = START, START + dt.timedelta(days=40)
    body = api.json(EVENTS, start_date=since.isoformat(), end_date=until.isoformat(), limit=1000)[0]
    expected = [
        e["id"] for e in events
        if e["start_date"] >= f"{since} 00:00:00" and e["end_date"] <= f"{until} 23:59:59"
    ]
    assert [e["id"] for e in body["events"]] == expected
    assert body["total_records"] == str(len(expected))
    created = api.json(EVENTS, start_date=START.isoformat(), date_filter_type="created_at")[0]
    assert created["total_records"] == "0"  # nothing is created after the clock
    created_before = api.json(EVENTS, end_date=START.isoformat(), date_filter_type="created_at", limit=1000)[0]
    assert created_before["total_records"] == str(len(events))


def test_updated_at_filter_after_advance(make_api: Callable[..., Api]) -> None:
    client = make_api()
    summary = client.advance(1)
    today = summary["today"]
    assert today == (START + dt.timedelta(days=1)).isoformat()
    changed = client.json(EVENTS, start_date=today, date_filter_type="updated_at", limit=1000)[0]
    created = client.json(EVENTS, start_date=today, date_filter_type="created_at", limit=1000)[0]
    assert int(created["total_records"]) == summary["new_events"] > 0
    assert summary["new_events"] <= int(changed["total_records"]) <= summary["new_events"] + summary["updated_events"]
    assert {e["id"] for e in created["events"]} <= {e["id"] for e in changed["events"]}
    before = client.json(EVENTS, end_date=START.isoformat(), date_filter_type="updated_at", limit=1000)[0]
    everything = client.json(EVENTS, limit=1000)[0]
    assert int(before["total_records"]) + int(changed["total_records"]) == int(everything["total_records"])


# ---- determinism ---------------------------------------------------------------


def _snapshot(client: Api) -> list[Any]:
    event_ids = client.app.event_ids()
    shots: list[Any] = [client.json(EVENTS, limit=1000)]
    for event_id in event_ids[:4]:
        for name in ("registrants", "attendees", "sessions", "sessionattendance", "packages", "sessionondemand"):
            shots.append(client.json(f"{EVENTS}/{name}", event_id=event_id, limit=1000))
        shots.append(client.json(SPEAKERS, event_id=event_id, limit=50))
    return shots


def test_same_seed_same_data_other_seed_other_data(make_api: Callable[..., Api]) -> None:
    first, second, other = make_api(seed=3), make_api(seed=3), make_api(seed=4)
    assert _snapshot(first) == _snapshot(second)
    assert _snapshot(first) != _snapshot(other)
    assert first.advance(3) == second.advance(3)
    assert _snapshot(first) == _snapshot(second)


def test_advancing_two_days_equals_one_day_twice(make_api: Callable[..., Api]) -> None:
    at_once, stepwise = make_api(), make_api()
    at_once.advance(2)
    stepwise.advance(1)
    stepwise.advance(1)
    assert _snapshot(at_once) == _snapshot(stepwise)


# ---- the clock and changes over time -------------------------------------------------


def test_clock_and_advance_over_http(make_api: Callable[..., Api]) -> None:
    client = make_api()
    clock = client.http.get("/_sandbox/clock").json()
    assert clock["today"] == START.isoformat()
    assert dt.datetime.fromisoformat(clock["now"]).utcoffset() == dt.timedelta(0)
    response = client.http.post("/_sandbox/advance?days=1")
    assert response.status_code == 200
    summary = response.json()
    assert summary["today"] == (START + dt.timedelta(days=1)).isoformat()
    assert set(summary) == {"today", "new_events", "updated_events", "new_registrations",
                            "cancelled_registrations", "new_attendance_rows"}
    assert client.http.get("/_sandbox/clock").json()["today"] == summary["today"]
    assert client.http.post("/_sandbox/advance?days=0").status_code == 400
    assert client.http.get("/_sandbox/nothing").status_code == 404


def test_advance_adds_events_registrations_and_attendance(make_api: Callable[..., Api]) -> None:
    client = make_api()

    def totals() -> tuple[int, int, int]:
        event_ids = client.app.event_ids()
        registrants = sum(client.json(f"{EVENTS}/registrants", event_id=e, limit=1)["total records"] for e in event_ids)
        attendance = client.json(f"{EVENTS}/sessionattendance", limit=1)["total_records"]
        return len(event_ids), registrants, attendance

    events, registrants, attendance = totals()
    ended_before = set(client.app.event_ids(ended=True))
    summary = {k: 0 for k in ("new_events", "new_registrations", "cancelled_registrations", "new_attendance_rows")}
    for _ in range(30):
        day = client.advance(1)
        for key in summary:
            summary[key] += day[key]
    assert all(summary.values()), summary
    events_after, registrants_after, attendance_after = totals()
    assert events_after == events + summary["new_events"]
    assert registrants_after == registrants + summary["new_registrations"] - summary["cancelled_registrations"]
    assert attendance_after == attendance + summary["new_attendance_rows"]
    newly_ended = set(client.app.event_ids(ended=True)) - ended_before
    assert newly_ended
    for event_id in newly_ended:
        assert int(client.json(f"{EVENTS}/attendees", event_id=event_id)["total_records"]) > 0


def test_cancel_registration_removes_the_registrant(make_api: Callable[..., Api]) -> None:
    client = make_api()
    event_id = _upcoming_event(client)
    registrants = _all_pages(client, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id)
    victim = registrants[len(registrants) // 2]
    response = client.send("DELETE", f"{EVENTS}/cancel_registration", {"user_id": victim["user_id"], "event_id": event_id})
    assert response.status_code == 200
    assert response.json() == "You have successfully canceled this user's registration."
    after = _all_pages(client, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id)
    assert [r for r in registrants if r["user_id"] != victim["user_id"]] == after
    user_events = client.json(f"{EVENTS}/user", user_id=victim["user_id"])[0]["events"]
    assert event_id not in {e["id"] for e in user_events}
    again = client.send("DELETE", f"{EVENTS}/cancel_registration", {"user_id": victim["user_id"], "event_id": event_id})
    assert again.status_code == 404


def test_cancel_by_email_is_case_and_space_insensitive(make_api: Callable[..., Api]) -> None:
    client = make_api()
    event_id = _upcoming_event(client)
    victim = client.json(f"{EVENTS}/registrants", event_id=event_id, limit=1)["registrants"][0]
    email = f"  {victim['email'].strip().upper()} "
    response = client.send("DELETE", f"{EVENTS}/cancel_registration", {"email": email, "event_id": [event_id]})
    assert response.status_code == 200
    ids = {r["user_id"] for r in _all_pages(client, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id)}
    assert victim["user_id"] not in ids


def test_register_and_modify_registration(make_api: Callable[..., Api]) -> None:
    client = make_api()
    event_id = _upcoming_event(client)
    event = client.json(EVENTS, event_id=event_id)[0]["events"][0]
    registered = {r["user_id"] for r in _all_pages(client, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id)}
    user_id = next(str(100_000 + n) for n in range(300) if str(100_000 + n) not in registered)
    package = client.json(f"{EVENTS}/packages", event_id=event_id)["data"][0]
    answers = [
        {"question_id": q["id"], "answer": q["answers"][0]["value"] if q["answers"] else "Engineer"}
        for q in event["registration_questions"].values()
    ]
    required = [q for q in event["registration_questions"].values() if q["required"] == "1"]
    if required:
        missing = client.send("POST", f"{EVENTS}/register", {"user_id": user_id, "product_id": package["product_id"]})
        assert missing.status_code == 400
    response = client.send(
        "POST", f"{EVENTS}/register",
        {"user_id": user_id, "product_id": [package["product_id"]], "registration_answers": answers},
    )
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    rows = _all_pages(client, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id)
    mine = next(r for r in rows if r["user_id"] == user_id)
    assert mine["source"] == "api"
    assert [p["id"] for p in mine["packages"]] == [package["product_id"]]
    assert {q["question_id"] for q in mine["questions"]} == {a["question_id"] for a in answers}
    assert event_id in {e["id"] for e in client.json(f"{EVENTS}/user", user_id=user_id)[0]["events"]}

    session = client.json(f"{EVENTS}/sessions", event_id=event_id)["sessions"][0]
    modified = client.send(
        "PUT", f"{EVENTS}/modify_registration",
        {"user_id": user_id, "event_id": event_id, "add_product_ids": [session["product_id"]]},
    )
    assert modified.status_code == 200
    assert modified.json() == "You have successfully modified this user's registration."
    on_session = _all_pages(
        client, f"{EVENTS}/registrants", "registrants", 1000, event_id=event_id, session_id=session["id"]
    )
    assert user_id in {r["user_id"] for r in on_session}
    unknown = client.send("PUT", f"{EVENTS}/modify_registration", {"user_id": "100000", "event_id": "999999"})
    assert unknown.status_code == 404


# ---- the server itself -------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(api: Api) -> None:
    with httpx.Client(base_url=api.server.base_url) as client:
        for _ in range(200):
            response = client.get(f"{EVENTS}/sessions", params={"api_key": KEY, "event_id": api.app.event_ids()[0]})
            assert response.status_code == 200
            assert response.http_version == "HTTP/1.1"
            assert int(response.headers["content-length"]) == len(response.content)
    connection = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=5)
    try:
        sockets = set()
        for _ in range(20):
            connection.request("GET", f"{EVENTS}?api_key={KEY}&limit=1")
            assert connection.getresponse().read()
            sockets.add(id(connection.sock))
        assert len(sockets) == 1
    finally:
        connection.close()


def test_concurrent_clients_while_the_clock_moves(make_api: Callable[..., Api]) -> None:
    client = make_api()
    event_ids = client.app.event_ids()
    failures: list[int] = []

    def worker(index: int) -> None:
        with httpx.Client(base_url=client.server.base_url, timeout=10) as http:
            for n in range(25):
                event_id = event_ids[(index + n) % len(event_ids)]
                response = http.get(f"{EVENTS}/registrants", params={"api_key": KEY, "event_id": event_id})
                if response.status_code != 200:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    client.advance(5)
    for thread in threads:
        thread.join()
    assert failures == []


def test_stop_ends_open_keep_alive_connections() -> None:
    server = SandboxServer(OpusSandbox(start_date=START)).start()
    with httpx.Client(base_url=server.base_url, timeout=2) as client:
        assert client.get(EVENTS, params={"api_key": KEY}).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get(EVENTS, params={"api_key": KEY})


class _BrokenApp(SandboxApp):
    vendor = "broken"

    @synchronized
    def handle(self, method, path, query, headers, body):  # type: ignore[no-untyped-def]
        if path == "/boom":
            raise RuntimeError("handler bug")
        return SandboxResponse.json({"path": path, "query": query})

    def _advance_one_day(self) -> dict[str, int]:
        return {}

    def settings(self, base_url: str) -> dict[str, str]:
        return {}


def test_handler_errors_are_500_json_and_the_connection_survives() -> None:
    with SandboxServer(_BrokenApp(start_date=START)) as server, httpx.Client(base_url=server.base_url) as client:
        broken = client.get("/boom")
        assert broken.status_code == 500 and broken.json()["error"]
        fine = client.get("/ok", params={"a": "1"})
        assert fine.json() == {"path": "/ok", "query": {"a": ["1"]}}


def test_latency_is_applied_to_vendor_calls_only() -> None:
    with SandboxServer(_BrokenApp(start_date=START), latency=0.05) as server, httpx.Client(base_url=server.base_url) as client:
        assert client.get("/ok").elapsed >= dt.timedelta(seconds=0.05)
        assert client.get("/_sandbox/clock").status_code == 200


def test_settings_name_the_dlt_variables(api: Api) -> None:
    assert api.app.settings(api.server.base_url) == {
        "SOURCES__OPUS__BASE_URL": api.server.base_url,
        "SOURCES__OPUS__API_KEY": DEMO_API_KEY,
    }


# ---- scales ----------------------------------------------------------------------------


def test_unknown_scale_is_rejected() -> None:
    with pytest.raises(ValueError):
        OpusSandbox(scale="huge")
    assert {"small", "medium", "large"} <= set(SCALES)


def test_medium_scale_builds_and_serves(make_api: Callable[..., Api]) -> None:
    client = make_api(scale="medium")
    counts = client.app.row_counts()
    assert 250 <= counts["events"] <= 350
    assert 40_000 <= counts["registrants"] + counts["sessionattendance"] <= 100_000
    total = client.json(f"{EVENTS}/sessionattendance", limit=1)["total_records"]
    assert total == counts["sessionattendance"]
    last_page = client.json(f"{EVENTS}/sessionattendance", limit=1000, offset=total - 10)
    assert len(last_page["attendees"]) == 10

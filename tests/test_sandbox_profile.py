"""The sandboxes' sparse profile: only what each vendor requires, empty child lists, no orders.

Every vendor's sandbox is served twice with the same seed, once ``full`` and
once ``sparse``, and read over HTTP. The sparse answers are compared record by
record with the full ones: the same data behind them, required fields always
sent as they are, optional ones left out, blank or kept. Then the daily job
loads all four vendors sparse for two days.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest

from assets.cli import _start_sandboxes, main
from assets.runner import MARTS, run_daily_load
from pipelines.icareus.helpers import sign_token
from pipelines.registry import VENDORS
from sandboxes.brp import BrpSandbox
from sandboxes.eventbookings import EventBookingsSandbox
from sandboxes.icareus import IcareusSandbox
from sandboxes.opus import OpusSandbox
from sandboxes.registry import sandbox_for
from sandboxes.server import (
    FULL,
    PROFILE_ENV,
    SPARSE,
    RecordShape,
    SandboxApp,
    SandboxProfile,
    SandboxServer,
    profile_from_env,
)
from tests.conftest import SANDBOX_START

SEED = 7
Record = dict[str, Any]
# Per list: {event id: [records]}, in the order served.
Lists = dict[str, dict[str, list[Record]]]
BLANKS: tuple[Any, ...] = ("", [], {})

OPUS_EVENTS = "/rest/api/v1/events"
# OPUS list: (path, items key, record key, fields always sent)
OPUS_LISTS: dict[str, tuple[str, str, tuple[str, ...], set[str]]] = {
    "registrants": (f"{OPUS_EVENTS}/registrants", "registrants", ("registration_id",),
                    {"registration_id", "user_id", "email"}),
    "attendees": (f"{OPUS_EVENTS}/attendees", "attendees", ("id",), {"id", "email"}),
    "sessions": (f"{OPUS_EVENTS}/sessions", "sessions", ("id",),
                 {"id", "product_id", "identification", "start_date_time"}),
    "session_attendance": (f"{OPUS_EVENTS}/sessionattendance", "attendees",
                           ("user_id", "product_identification"),
                           {"user_id", "product_identification", "email"}),
    "itineraries": (f"{OPUS_EVENTS}/sessionitineraries", "data", ("id",),
                    {"id", "product_id", "identification", "start_date_time", "itinerary_users_list"}),
    "on_demand": (f"{OPUS_EVENTS}/sessionondemand", "data", ("session_id",),
                  {"session_id", "product_id", "identification", "start_date_time", "users"}),
    "packages": (f"{OPUS_EVENTS}/packages", "data", ("product_id",), {"product_id"}),
    "speakers": ("/rest/opus/api/v1/events/speakers", "speakers", ("id",), {"id"}),
}
ICAREUS_EVENT_REQUIRED = {"eventId", "name", "startTime", "duration", "mainEventRoomId", "rooms"}
ICAREUS_ROOM_REQUIRED = {"roomId", "eventId", "name", "startTime", "duration"}
EVENTBOOKINGS_LISTS: dict[str, set[str]] = {
    "sessions": {"uuid", "session_starts_on"},
    "tickets": {"uuid"},
    "attendees": {"uuid", "email"},
    "waiting_list": {"uuid", "email"},
}


# ---- serving and reading ---------------------------------------------------------------


def _both_profiles(sandbox: type[SandboxApp]) -> Iterator[tuple[SandboxServer, SandboxServer]]:
    """The vendor's sandbox served full, then sparse, with the same seed."""
    with ExitStack() as stack:
        apps = (sandbox(seed=SEED, start_date=SANDBOX_START, profile=profile) for profile in (FULL, SPARSE))
        yield tuple(stack.enter_context(SandboxServer(app)) for app in apps)


@pytest.fixture(scope="module")
def opus() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    yield from _both_profiles(OpusSandbox)


@pytest.fixture(scope="module")
def eventbookings() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    yield from _both_profiles(EventBookingsSandbox)


@pytest.fixture(scope="module")
def brp() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    yield from _both_profiles(BrpSandbox)


@pytest.fixture(scope="module")
def icareus() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    yield from _both_profiles(IcareusSandbox)


def _opus_answer(server: SandboxServer, path: str, **params: Any) -> httpx.Response:
    app = server.app
    assert isinstance(app, OpusSandbox)
    response = httpx.get(server.base_url + path, params={"api_key": app.api_key, **params})
    assert response.status_code == 200, response.text
    return response


def _opus_get(server: SandboxServer, path: str, **params: Any) -> Any:
    return _opus_answer(server, path, **params).json()


def _opus_events(server: SandboxServer) -> list[Record]:
    return _opus_get(server, OPUS_EVENTS, limit=1000)[0]["events"]


def _opus_lists(server: SandboxServer) -> Lists:
    lists: Lists = {name: {} for name in OPUS_LISTS}
    for event in _opus_events(server):
        for name, (path, items, _, _) in OPUS_LISTS.items():
            rows, offset = [], 0
            while True:
                page = _opus_get(server, path, event_id=event["id"], limit=50, offset=offset)[items]
                rows += page
                offset += len(page)
                if len(page) < 50:
                    break
            lists[name][event["id"]] = rows
    return lists


class _EventBookings:
    def __init__(self, server: SandboxServer) -> None:
        settings = server.app.settings(server.base_url)
        token = httpx.post(settings["SOURCES__EVENTBOOKINGS__TOKEN_URL"], data={
            "client_id": settings["SOURCES__EVENTBOOKINGS__CLIENT_ID"],
            "client_secret": settings["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"],
            "grant_type": "client_credentials",
        }).json()["access_token"]
        self.http = httpx.Client(base_url=settings["SOURCES__EVENTBOOKINGS__BASE_URL"],
                                 headers={"Authorization": f"Bearer {token}"})

    def page(self, path: str, position: int = 0, rows: int = 100) -> Record:
        response = self.http.get(path, params={"position": position, "rows": rows})
        assert response.status_code == 200, response.text
        return response.json()

    def all(self, path: str, items: str, rows: int = 100) -> list[Record]:
        """Every record of a list, page by page, checking the envelope's count against the rows served."""
        records: list[Record] = []
        while True:
            body = self.page(path, len(records), rows)
            page = body[items]
            if items == "sessions":
                page = [session for group in page for session in group["session_lists"]]
            records += page
            if not page or len(records) >= int(body["pagination"]["records"]):
                assert len(records) == int(body["pagination"]["records"])
                return records

    def lists(self) -> tuple[list[Record], Lists]:
        events = self.all("/events", "events")
        lists: Lists = {name: {} for name in (*EVENTBOOKINGS_LISTS, "orders")}
        for event in events:
            for name in lists:
                lists[name][event["uuid"]] = self.all(f"/events/{event['uuid']}/{name}", name, rows=20)
        return events, lists


def _brp_events(server: SandboxServer) -> list[ET.Element]:
    app = server.app
    assert isinstance(app, BrpSandbox)
    response = httpx.get(f"{server.base_url}/events.xml", params={
        "apikey": app.api_key, "includeparticipants": "true", "startdate": "2000-01-01",
        "bookablefrominternet": "false",
    })
    assert response.status_code == 200
    return list(ET.fromstring(response.content))


def _icareus_events(server: SandboxServer) -> list[Record]:
    app = server.app
    assert isinstance(app, IcareusSandbox)
    settings = app.settings(server.base_url)
    token = sign_token(app.organization_id, app.secret, settings["SOURCES__ICAREUS__CLIENT_IP"], time.time())
    events = []
    for event_id in app.event_ids():
        response = httpx.get(f"{server.base_url}/api/event", headers={"Authorization": f"Bearer {token}"},
                             params={"eventId": event_id, "organizationId": app.organization_id})
        assert response.json()["status"] == "ok", response.text
        events.append(response.json()["event"])
    return events


# ---- comparing a sparse record with its full one ---------------------------------------


def _key(record: Record, key: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(record[name] for name in key)


def _fates(full: Record, sparse: Record, required: set[str], nested: set[str] = frozenset()) -> Counter[str]:
    """How the sparse record sent each optional field of the full one.

    Fails on a required field lost or changed. A ``nested`` field's records are
    thinned themselves, so when kept it may differ.
    """
    for name in required:
        assert name in sparse, f"required {name!r} missing from {sparse}"
        if name not in nested:
            assert sparse[name] == full[name], (name, sparse, full)
    assert set(sparse) <= set(full), set(sparse) - set(full)
    fates: Counter[str] = Counter()
    for name, value in full.items():
        if name in required:
            continue
        if name not in sparse:
            fates["absent"] += 1
        elif sparse[name] == value and value not in BLANKS:
            fates["kept"] += 1
        elif sparse[name] in BLANKS:
            fates["blank"] += 1
        else:
            assert name in nested, f"{name!r}: {sparse[name]!r} is neither {value!r} nor blank"
            fates["kept"] += 1
    return fates


def _compare_list(full: list[Record], sparse: list[Record], key: tuple[str, ...], required: set[str],
                  nested: set[str] = frozenset()) -> Counter[str]:
    """Fates of a list's optional fields; the sparse list is empty or has the full one's records."""
    if not sparse:
        return Counter(bare=1 if full else 0)
    assert [_key(r, key) for r in sparse] == [_key(r, key) for r in full]
    fates: Counter[str] = Counter(listed=1)
    for full_record, sparse_record in zip(full, sparse, strict=True):
        fates += _fates(full_record, sparse_record, required, nested)
    return fates


def _assert_thinned(fates: Counter[str], what: str) -> None:
    """Optional fields were left out, blanked and kept, each many times."""
    assert min(fates["absent"], fates["blank"], fates["kept"]) > 10, (what, fates)


# ---- the setting -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "profile"), [
    (None, FULL), ("", FULL), ("full", FULL), ("sparse", SPARSE), (" Sparse ", SPARSE),
])
def test_the_setting_names_a_profile_and_defaults_to_full(value, profile):
    env = {} if value is None else {PROFILE_ENV: value}
    assert profile_from_env(env) == profile


def test_an_unknown_profile_is_one_clear_error():
    with pytest.raises(ValueError) as raised:
        profile_from_env({PROFILE_ENV: "thin"})
    assert str(raised.value) == "TURNOUT_SANDBOX_PROFILE must be one of full, sparse, got 'thin'"
    with pytest.raises(ValueError, match="unknown sandbox profile 'thin'"):
        OpusSandbox(seed=SEED, start_date=SANDBOX_START, profile="thin")


@pytest.mark.parametrize("command", [["demo", "--days", "0"], ["sandbox"]])
def test_the_cli_refuses_an_unknown_profile_before_doing_anything(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(PROFILE_ENV, "thin")
    warehouse = tmp_path / "demo.duckdb"
    warehouse.write_bytes(b"kept")
    extra = ["--warehouse", str(warehouse)] if command[0] == "demo" else []

    assert main(command + extra) == 2

    out = capsys.readouterr().out
    assert out.strip() == "TURNOUT_SANDBOX_PROFILE must be one of full, sparse, got 'thin'"
    assert warehouse.read_bytes() == b"kept"


def test_the_cli_serves_every_vendor_with_the_profile():
    with ExitStack() as stack:
        servers = _start_sandboxes(stack, SEED, "small", port=0, profile=SPARSE)
        assert [server.app.vendor for server in servers] == [vendor.name for vendor in VENDORS]
        assert {server.app.profile.name for server in servers} == {SPARSE}


# ---- full is today's behaviour -------------------------------------------------------------


def test_full_thins_nothing_and_no_event_is_bare():
    profile = SandboxProfile(FULL, seed=SEED, vendor="opus")
    record = {"id": "1", "name": "x", "rooms": [{"roomId": 2}]}
    assert profile.thin(record, RecordShape("event", key=("id",))) is record
    assert not any(profile.bare(key) for key in range(1_000))


@pytest.mark.parametrize("sandbox", [OpusSandbox, EventBookingsSandbox, BrpSandbox, IcareusSandbox])
def test_the_default_profile_is_full(sandbox):
    assert sandbox(seed=SEED, start_date=SANDBOX_START).profile.name == FULL


def test_full_answers_equal_the_default_ones_byte_for_byte(opus, brp):
    full, _ = opus
    with SandboxServer(OpusSandbox(seed=SEED, start_date=SANDBOX_START)) as default:
        for path in (OPUS_EVENTS, f"{OPUS_EVENTS}/sessionattendance", f"{OPUS_EVENTS}/sessionitineraries"):
            answers = [_opus_answer(server, path, limit=1000).content for server in (full, default)]
            assert answers[0] == answers[1]
    full_brp, _ = brp
    with SandboxServer(BrpSandbox(seed=SEED, start_date=SANDBOX_START)) as default:
        answers = [[ET.tostring(event) for event in _brp_events(server)] for server in (full_brp, default)]
        assert answers[0] == answers[1]


# ---- sparse, per vendor ----------------------------------------------------------------------


def test_opus_sparse_sends_the_required_fields_and_thins_the_rest(opus):
    full, sparse = opus
    full_events, sparse_events = _opus_events(full), _opus_events(sparse)
    assert [e["id"] for e in sparse_events] == [e["id"] for e in full_events]
    fates = sum((_fates(f, s, {"id", "start_date"}) for f, s in zip(full_events, sparse_events, strict=True)),
                Counter())
    assert min(fates["absent"], fates["blank"], fates["kept"]) > 5, fates
    full_lists, sparse_lists = _opus_lists(full), _opus_lists(sparse)
    for name, (_, _, key, required) in OPUS_LISTS.items():
        nested = {"itinerary_users_list", "users"}
        fates = sum((_compare_list(full_lists[name][e], sparse_lists[name][e], key, required, nested)
                     for e in full_lists[name]), Counter())
        assert fates["listed"] > 0, name
        if name not in ("packages", "itineraries", "on_demand"):  # a few records each
            _assert_thinned(fates, name)


def test_opus_sparse_has_bare_events_everywhere_and_sessions_without_rooms(opus):
    full, sparse = opus
    sparse_lists = _opus_lists(sparse)
    bare = {e for e, rows in sparse_lists["sessions"].items() if not rows}
    assert 0 < len(bare) < len(sparse_lists["sessions"])
    for name in OPUS_LISTS:
        assert all(not sparse_lists[name][e] for e in bare), name
    assert any(sparse_lists["registrants"][e] for e in set(sparse_lists["registrants"]) - bare)
    # The lists that cover every event leave the bare events out too.
    everyone = _opus_get(sparse, f"{OPUS_EVENTS}/sessionattendance", limit=1000)
    assert everyone["total_records"] == sum(len(rows) for rows in sparse_lists["session_attendance"].values())
    behind = _opus_get(full, f"{OPUS_EVENTS}/sessionattendance", limit=1)
    assert everyone["total_records"] < behind["total_records"]
    sessions = [s for rows in sparse_lists["sessions"].values() for s in rows]
    assert sessions and all(not s.get("session_room") for s in sessions)
    assert any("session_room" in s for s in sessions) and any("session_room" not in s for s in sessions)


def test_opus_sparse_user_events_leave_out_bare_events(opus):
    full, sparse = opus
    sparse_lists = _opus_lists(sparse)
    bare = sorted(e for e, rows in sparse_lists["sessions"].items() if not rows)
    [someone, *_] = _opus_get(full, f"{OPUS_EVENTS}/registrants", event_id=bare[0], limit=1)["registrants"]

    def events_of(server: SandboxServer) -> set[str]:
        [page] = _opus_get(server, f"{OPUS_EVENTS}/user", user_id=someone["user_id"], limit=1000)
        return {event["id"] for event in page["events"]}

    assert bare[0] in events_of(full)
    assert events_of(sparse) == events_of(full) - set(bare)


def test_opus_sparse_paging_counts_match_the_rows(opus):
    _, sparse = opus
    for event in _opus_events(sparse):
        body = _opus_get(sparse, f"{OPUS_EVENTS}/registrants", event_id=event["id"], limit=1000)
        assert body["total records"] == len(body["registrants"])


def test_eventbookings_sparse_sends_the_required_fields_and_thins_the_rest(eventbookings):
    full, sparse = (_EventBookings(server).lists() for server in eventbookings)
    (full_events, full_lists), (sparse_events, sparse_lists) = full, sparse
    assert [e["uuid"] for e in sparse_events] == [e["uuid"] for e in full_events]
    required = {"uuid", "attending_on", "updated_on"}
    fates = sum((_fates(f, s, required, {"sessions", "tickets"})
                 for f, s in zip(full_events, sparse_events, strict=True)), Counter())
    _assert_thinned(fates, "events")
    for name, required in EVENTBOOKINGS_LISTS.items():
        fates = sum((_compare_list(full_lists[name][e], sparse_lists[name][e], ("uuid",), required)
                     for e in full_lists[name]), Counter())
        assert fates["listed"] > 0 and fates["bare"] > 0, (name, fates)
        if name != "waiting_list":  # a handful of entries
            _assert_thinned(fates, name)


def test_eventbookings_sparse_lists_no_orders_nor_references_to_them(eventbookings):
    full_events, full_lists = _EventBookings(eventbookings[0]).lists()
    _, sparse_lists = _EventBookings(eventbookings[1]).lists()
    assert any(full_lists["orders"].values())
    assert not any(sparse_lists["orders"].values())
    attendees = [a for rows in sparse_lists["attendees"].values() for a in rows]
    assert attendees and all("order_uuid" not in a for a in attendees)


def test_eventbookings_sparse_bare_events_list_nothing_and_sessions_have_no_rooms(eventbookings):
    client = _EventBookings(eventbookings[1])
    events, lists = client.lists()
    bare = [e for e in events if not any(lists[name][e["uuid"]] for name in EVENTBOOKINGS_LISTS)]
    assert 0 < len(bare) < len(events)
    for event in bare:
        [served] = client.page(f"/events/{event['uuid']}")["events"]
        assert served.get("sessions", {}).get("session_lists", []) == []
        assert served.get("tickets", {}).get("levels", []) == []
    sessions = [s for rows in lists["sessions"].values() for s in rows]
    assert sessions and all(not s.get("configuration") for s in sessions)


def _brp_fields(event: ET.Element) -> Record:
    return {child.tag: ET.tostring(child) for child in event if child.tag != "participants"}


def _empty(element: bytes) -> bool:
    return ET.fromstring(element).text in (None, "") and not len(ET.fromstring(element))


def test_brp_sparse_sends_the_required_elements_and_thins_the_rest(brp):
    full, sparse = (_brp_events(server) for server in brp)
    assert [e.findtext("id") for e in sparse] == [e.findtext("id") for e in full]
    fates: Counter[str] = Counter()
    participants: Counter[str] = Counter()
    for full_event, sparse_event in zip(full, sparse, strict=True):
        full_fields, sparse_fields = _brp_fields(full_event), _brp_fields(sparse_event)
        bare = len(sparse_event.find("participants")) == 0 and len(full_event.find("participants")) > 0
        for tag, element in full_fields.items():
            if tag in ("id", "startdate", "lastupdate"):
                assert sparse_fields[tag] == element
            elif tag not in sparse_fields:
                fates["absent"] += 1
            elif _empty(sparse_fields[tag]):
                fates["blank"] += 1
            else:
                assert sparse_fields[tag] == element or (bare and tag == "filledslots"), tag
                fates["kept"] += 1
        participants["bare"] += bare
        if bare and "filledslots" in sparse_fields and not _empty(sparse_fields["filledslots"]):
            assert sparse_event.findtext("filledslots") == "0"
        if not bare:
            participants += _compare_brp_participants(full_event, sparse_event)
    _assert_thinned(fates, "events")
    _assert_thinned(participants, "participants")
    assert participants["bare"] > 0


def _compare_brp_participants(full_event: ET.Element, sparse_event: ET.Element) -> Counter[str]:
    full, sparse = (list(event.find("participants")) for event in (full_event, sparse_event))
    assert [p.findtext("eventbookingid") for p in sparse] == [p.findtext("eventbookingid") for p in full]
    fates: Counter[str] = Counter()
    for full_participant, sparse_participant in zip(full, sparse, strict=True):
        record = {child.tag: child.text or "" for child in sparse_participant}
        fates += _fates({child.tag: child.text for child in full_participant}, record,
                        {"personid", "eventbookingid"})
    return fates


def test_icareus_sparse_keeps_rooms_and_what_the_doc_makes_mandatory(icareus):
    full, sparse = (_icareus_events(server) for server in icareus)
    event_fates: Counter[str] = Counter()
    room_fates: Counter[str] = Counter()
    for full_event, sparse_event in zip(full, sparse, strict=True):
        event_fates += _fates(full_event, sparse_event, ICAREUS_EVENT_REQUIRED, {"rooms"})
        assert ("startTimePublic" in sparse_event) == ("durationPublic" in sparse_event)
        assert [r["roomId"] for r in sparse_event["rooms"]] == [r["roomId"] for r in full_event["rooms"]]
        assert sparse_event["mainEventRoomId"] in {r["roomId"] for r in sparse_event["rooms"]}
        for full_room, sparse_room in zip(full_event["rooms"], sparse_event["rooms"], strict=True):
            room_fates += _fates(full_room, sparse_room, ICAREUS_ROOM_REQUIRED)
    _assert_thinned(event_fates, "events")
    assert min(room_fates["absent"], room_fates["blank"], room_fates["kept"]) > 5, room_fates


# ---- the same every time -----------------------------------------------------------------------


def _sparse_answers(app: OpusSandbox) -> list[bytes]:
    def read(path: str, **params: Any) -> bytes:
        query = {"api_key": [app.api_key], **{name: [str(value)] for name, value in params.items()}}
        return app.handle("GET", path, query, {}, b"").encoded()

    return [read(OPUS_EVENTS, limit=1000), read(f"{OPUS_EVENTS}/sessionattendance", limit=1000)] + [
        read(f"{OPUS_EVENTS}/registrants", event_id=event_id, limit=1000) for event_id in app.event_ids()
    ]


def test_sparse_is_deterministic_from_the_seed():
    first, second = (OpusSandbox(seed=SEED, start_date=SANDBOX_START, profile=SPARSE) for _ in range(2))
    assert _sparse_answers(first) == _sparse_answers(second)
    other = OpusSandbox(seed=SEED + 1, start_date=SANDBOX_START, profile=SPARSE)
    assert _sparse_answers(other) != _sparse_answers(first)


def test_a_sparse_record_keeps_its_shape_from_day_to_day():
    app = OpusSandbox(seed=SEED, start_date=SANDBOX_START, profile=SPARSE)
    speakers: Callable[[], Any] = lambda: [  # noqa: E731
        app.handle("GET", "/rest/opus/api/v1/events/speakers",
                   {"api_key": [app.api_key], "event_id": [event_id], "limit": ["50"]}, {}, b"").encoded()
        for event_id in app.event_ids()
    ]
    before = speakers()
    app.advance(2)
    assert speakers()[:len(before)] == before


# ---- end to end --------------------------------------------------------------------------------


def _tables(warehouse: Path, schema: str) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select table_name from information_schema.tables where table_schema = ?",
                           [schema])
        return {name for (name,) in rows.fetchall()}


@pytest.mark.e2e
def test_all_four_vendors_load_sparse_for_two_days(warehouse, monkeypatch):
    with ExitStack() as stack:
        servers = [stack.enter_context(SandboxServer(sandbox_for(vendor.name)(
            seed=SEED, scale="small", start_date=SANDBOX_START, profile=SPARSE))) for vendor in VENDORS]
        for server in servers:
            for name, value in server.app.settings(server.base_url).items():
                monkeypatch.setenv(name, value)
        with dg.instance_for_test() as instance:
            for day in range(2):
                if day:
                    for server in servers:
                        server.app.advance(1)
                outcome = run_daily_load(warehouse, as_of=servers[0].app.today.isoformat(), instance=instance)
                assert outcome.failures == [], f"day {day}: {outcome.failures}"
                assert set(outcome.loaded_vendors) == {vendor.title for vendor in VENDORS}
                marts = _tables(warehouse, "marts")
                assert set(MARTS) <= marts, f"day {day}: missing marts {set(MARTS) - marts}"
                assert outcome.checks_failed == [], f"day {day}: {outcome.checks_failed}"

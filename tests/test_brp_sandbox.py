"""The BRP sandbox over real HTTP: api key, parameters and filters, XML shape, streaming, clock."""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandboxes.brp import (
    DEMO_API_KEY,
    EVENTS_PATH,
    PERSON_ID_BASE,
    SCALES,
    TIMEZONE,
    BrpSandbox,
)
from sandboxes.server import PersonPool, SandboxApp, SandboxResponse, SandboxServer
from tests.brp_crawl import Crawl, crawl, stockholm_to_utc
from tests.conftest import SANDBOX_START
from tests.sandbox_client import SandboxClient, serving

SEED = 7
STOCKHOLM = ZoneInfo(TIMEZONE)
EVERYTHING = {"startdate": "1970-01-01", "bookablefrominternet": "false"}
MINUTE = "%Y-%m-%d %H:%M"
LOCAL_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The children of <event>, in the document's order.
DOC_ORDER = [
    "id", "name", "code", "productid", "description", "lastupdate", "productdescription", "numberofoccasions",
    "time", "startdate", "enddate", "publishstart", "publishend", "bookableslots", "filledslots", "registered",
    "bookableearliest", "bookablelatest", "businessunit", "orderid", "participants",
]
TIMEPOINT = ["timestamp", "datetime", "date", "time"]
PARTICIPANT = ["personid", "firstname", "lastname", "eventbookingid"]
SUMMARY_KEYS = {"new_events", "modified_events", "new_bookings", "cancelled_bookings"}


# ---- fixtures and helpers ---------------------------------------------------------------


class Api(SandboxClient):
    """A plain httpx client for one sandbox server."""

    def __init__(self, server: SandboxServer) -> None:
        super().__init__(server)
        self.app: BrpSandbox = server.app  # type: ignore[assignment]

    def get(self, key: str | None = DEMO_API_KEY, path: str = EVENTS_PATH, **params: str) -> httpx.Response:
        if key is not None:
            params = {"apikey": key, **params}
        return self.http.get(path, params=params)

    def document(self, **params: str) -> ET.Element:
        response = self.get(**params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/xml; charset=utf-8"
        assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(response.content)
        assert root.tag == "events"
        return root

    def ids(self, **params: str) -> list[str]:
        return [event.findtext("id") for event in self.document(**params).findall("event")]

    def everything(self) -> Crawl:
        return crawl(self.server.base_url, DEMO_API_KEY)


def _app(**kwargs: Any) -> BrpSandbox:
    return BrpSandbox(**{"seed": SEED, "scale": "small", "start_date": SANDBOX_START, **kwargs})


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A read-only sandbox shared by the tests that neither move its clock nor arm its hooks."""
    with SandboxServer(_app()) as server:
        client = Api(server)
        yield client
        client.close()


@pytest.fixture(scope="module")
def everything(api: Api) -> Crawl:
    return api.everything()


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    with serving() as serve:
        yield lambda **kwargs: serve(_app(**kwargs), Api)


def _errors(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    errors = []
    for error in root:
        assert error.tag == "error"
        assert [child.tag for child in error] == ["code", "message"]
        errors.append((error.findtext("code"), error.findtext("message")))
    assert errors
    return errors


def _utc(local: str) -> dt.datetime:
    """A local Stockholm 'YYYY-MM-DD HH:MM' read with zoneinfo (first reading when repeated)."""
    return dt.datetime.strptime(local, MINUTE).replace(tzinfo=STOCKHOLM).astimezone(dt.UTC)


def _start(event: Mapping[str, str]) -> dt.datetime:
    return _utc(f"{event['startdate']} {event['time'] or '00:00'}")


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _local_today(app: BrpSandbox) -> dt.date:
    return app.now.astimezone(STOCKHOLM).date()


def _matching(crawled: Crawl, keep: Callable[[dict[str, str]], bool]) -> set[str]:
    return {event_id for event_id, event in crawled.events.items() if keep(event)}


def _facts(app: BrpSandbox) -> dict[str, Any]:
    with app.lock:
        return {str(event.id): event for event in app.events}


# ---- settings ----------------------------------------------------------------------------


def test_settings(api: Api, everything: Crawl) -> None:
    settings = api.app.settings("http://127.0.0.1:9")
    assert set(settings) == {"SOURCES__BRP__BASE_URL", "SOURCES__BRP__API_KEY", "SOURCES__BRP__START_DATE"}
    assert settings["SOURCES__BRP__BASE_URL"] == "http://127.0.0.1:9"
    assert settings["SOURCES__BRP__API_KEY"] == DEMO_API_KEY
    earliest = min(_day(event["startdate"]) for event in everything.events.values())
    assert _day(settings["SOURCES__BRP__START_DATE"]) <= earliest
    assert BrpSandbox.vendor == "brp" and BrpSandbox.title == "BRP"


def test_scales_are_presets() -> None:
    assert set(SCALES) == {"small", "medium", "large"}
    assert SCALES["small"].events < SCALES["medium"].events < SCALES["large"].events
    with pytest.raises(ValueError):
        BrpSandbox(scale="huge")


# ---- api key, routing and errors ---------------------------------------------------------


def test_missing_apikey_is_401(api: Api) -> None:
    for response in (api.get(key=None), api.get(key=""), api.get(key=None, startdate="2026-01-01")):
        assert response.status_code == 401
        [(code, message)] = _errors(response)
        assert code == "ApiKeyMissing"
        assert "apikey" in message


def test_unknown_apikey_is_403_and_never_echoed(api: Api) -> None:
    wrong = "wrong-KEY-7731"
    for key in (wrong, DEMO_API_KEY.upper(), DEMO_API_KEY + "x"):
        response = api.get(key=key, startdate="not-a-date")  # the key is checked before parameters
        assert response.status_code == 403
        [(code, message)] = _errors(response)
        assert code == "ApiKeyInvalid"
        assert key not in response.text and key not in str(response.headers)
    assert "7731" not in api.get(key=wrong).text


@pytest.mark.parametrize("path", ["/", "/event.xml", "/events.json", "/api/events.xml", "/events.xml/12"])
def test_unknown_paths_are_404_before_the_key(api: Api, path: str) -> None:
    for key in (None, DEMO_API_KEY):
        response = api.get(key=key, path=path)
        assert response.status_code == 404
        assert [code for code, _ in _errors(response)] == ["NotFound"]
        assert DEMO_API_KEY not in response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_before_the_key(api: Api, method: str) -> None:
    for path in (EVENTS_PATH, "/events"):
        response = api.http.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == "GET"
        assert [code for code, _ in _errors(response)] == ["MethodNotAllowed"]


def test_events_without_extension_is_the_same_resource(api: Api) -> None:
    params = {"apikey": DEMO_API_KEY, "includeparticipants": "true", **EVERYTHING}
    with_extension = api.http.get(EVENTS_PATH, params=params)
    without = api.http.get("/events", params=params)
    assert with_extension.status_code == without.status_code == 200
    assert with_extension.content == without.content


@pytest.mark.parametrize(("name", "value"), [
    ("includebooking", "yes"),
    ("includebooking", "2"),
    ("includeparticipants", "truee"),
    ("bookablefrominternet", "maybe"),
    ("businessunitids", "4,x"),
    ("businessunitids", "4,,11"),
    ("businessunitid", "-4"),
    ("productlabelid", "56.0"),
    ("productlabelid", "0"),
    ("resourceid", "abc"),
    ("ongoingdate", "2026-02-30"),
    ("startdate", "10/03/2026"),
    ("enddate", "20260420"),
    ("publishstartdate", "2026-1-1"),
    ("publishenddate", "tomorrow"),
])
def test_invalid_values_are_400_naming_the_parameter(api: Api, name: str, value: str) -> None:
    response = api.get(**{name: value})
    assert response.status_code == 400
    [(code, message)] = _errors(response)
    assert code == "InvalidParameter"
    assert name in message and value in message
    assert DEMO_API_KEY not in response.text


def test_several_invalid_parameters_give_several_errors(api: Api) -> None:
    bad = {"startdate": "2026-13-01", "resourceid": "x", "includebooking": "nope"}
    response = api.get(**bad, enddate="2026-05-01")
    assert response.status_code == 400
    errors = _errors(response)
    assert [code for code, _ in errors] == ["InvalidParameter"] * len(bad)
    for name, value in bad.items():
        assert sum(name in message and value in message for _, message in errors) == 1


def test_error_documents_escape_values(api: Api) -> None:
    response = api.get(startdate="<b>&amp")
    assert response.status_code == 400
    [(_, message)] = _errors(response)  # parsed, so it was escaped
    assert "<b>&amp" in message


# ---- parameters ------------------------------------------------------------------------------


def test_booleans_accept_any_case_and_digits(api: Api) -> None:
    with_participants = api.get(includeparticipants="true", **EVERYTHING).content
    without = api.get(**EVERYTHING).content
    assert with_participants != without
    for spelling in ("TRUE", "True", "tRuE", "1"):
        assert api.get(includeparticipants=spelling, **EVERYTHING).content == with_participants
    for spelling in ("false", "FALSE", "False", "0"):
        assert api.get(includeparticipants=spelling, **EVERYTHING).content == without


def test_unknown_and_empty_parameters_are_ignored(api: Api) -> None:
    default = api.get().content
    assert api.get(foo="bar", page="2", limit="1").content == default
    assert api.get(startdate="", businessunitids="", includebooking="").content == default


def test_default_lists_events_not_yet_ended_and_bookable_from_internet(api: Api, everything: Crawl) -> None:
    today = _local_today(api.app)
    facts = _facts(api.app)
    default = api.ids()
    expected = _matching(everything, lambda e: _day(e["enddate"]) >= today and facts[e["id"]].internet)
    assert set(default) == expected
    assert len(default) == len(set(default))
    ended = _matching(everything, lambda e: _day(e["enddate"]) < today)
    assert ended and not ended & set(default)
    assert 0.7 * len(everything.events) > len(expected) > 0


def test_events_are_ordered_by_startdate_time_and_id(api: Api, everything: Crawl) -> None:
    ids = api.ids(**EVERYTHING)
    assert set(ids) == set(everything.events)
    keys = [(everything.events[i]["startdate"], everything.events[i]["time"], int(i)) for i in ids]
    assert keys == sorted(keys)
    # Same-day events in different orders by time and by id exist, so the order is not by id alone.
    assert ids != sorted(ids, key=int)


def test_any_date_filter_lifts_the_not_yet_ended_rule(api: Api, everything: Crawl) -> None:
    today = _local_today(api.app)
    past = (today - dt.timedelta(days=30)).isoformat()
    for name in ("ongoingdate", "startdate", "enddate", "publishstartdate", "publishenddate"):
        ids = set(api.ids(bookablefrominternet="false", **{name: past if name != "publishstartdate" else "1970-01-01"}))
        assert any(_day(everything.events[i]["enddate"]) < today for i in ids), name


def test_bookablefrominternet(api: Api, everything: Crawl) -> None:
    facts = _facts(api.app)
    internet = {i for i, event in facts.items() if event.internet}
    assert 0.7 * len(facts) < len(internet) < len(facts)
    assert set(api.ids(startdate="1970-01-01")) == internet
    assert set(api.ids(startdate="1970-01-01", bookablefrominternet="true")) == internet
    assert set(api.ids(startdate="1970-01-01", bookablefrominternet="false")) == set(everything.events)


def test_businessunitids_filter(api: Api, everything: Crawl) -> None:
    units = Counter(event["businessunit__id"] for event in everything.events.values())
    assert 5 <= len(units) <= 8
    assert {str(unit.id) for unit in api.app.business_units} >= set(units)
    first, second = sorted(units)[:2]
    both = _matching(everything, lambda e: e["businessunit__id"] in (first, second))
    assert 0 < len(both) < len(everything.events)
    assert set(api.ids(businessunitids=f"{first},{second}", **EVERYTHING)) == both
    assert set(api.ids(businessunitid=f"{second},{first}", **EVERYTHING)) == both  # the doc example's spelling
    assert set(api.ids(businessunitids=f" {first} ", **EVERYTHING)) == _matching(
        everything, lambda e: e["businessunit__id"] == first)
    assert api.ids(businessunitids="99999", **EVERYTHING) == []


def test_productlabelid_filter(api: Api, everything: Crawl) -> None:
    products = api.app.products
    labels = Counter(label for e in everything.events.values() for label in products[int(e["productid"])].labels)
    assert len(labels) >= 3
    for label in sorted(labels):
        expected = _matching(everything, lambda e, label=label: label in products[int(e["productid"])].labels)
        assert set(api.ids(productlabelid=str(label), **EVERYTHING)) == expected
    assert api.ids(productlabelid="1", **EVERYTHING) == []


def test_products_carry_their_description(api: Api, everything: Crawl) -> None:
    products = api.app.products
    for event in everything.events.values():
        product = products[int(event["productid"])]
        assert event["productdescription"] == product.description
        assert 1 <= len(product.labels) <= 2


def test_resourceid_filter(api: Api, everything: Crawl) -> None:
    facts = _facts(api.app)
    used = Counter(r for event in facts.values() for r in event.resources)
    assert all(1 <= len(event.resources) <= 2 for event in facts.values())
    assert any(len(event.resources) == 2 for event in facts.values())
    checked = 0
    for resource in api.app.resources:
        expected = {i for i, event in facts.items() if resource.id in event.resources}
        assert set(api.ids(resourceid=str(resource.id), **EVERYTHING)) == expected
        assert all(everything.events[i]["businessunit__id"] == str(resource.business_unit) for i in expected)
        checked += bool(expected)
    assert checked >= 5 and sum(used.values()) > len(facts)


@pytest.mark.parametrize(("name", "offset", "keep"), [
    ("ongoingdate", 10, lambda e, d: _day(e["startdate"]) <= d <= _day(e["enddate"])),
    ("ongoingdate", -40, lambda e, d: _day(e["startdate"]) <= d <= _day(e["enddate"])),
    ("startdate", 20, lambda e, d: _day(e["startdate"]) >= d),
    ("enddate", -20, lambda e, d: _day(e["enddate"]) <= d),
    ("enddate", 30, lambda e, d: _day(e["enddate"]) <= d),
    ("publishstartdate", -10, lambda e, d: _day(e["publishstart"][:10]) >= d),
    ("publishstartdate", -60, lambda e, d: _day(e["publishstart"][:10]) >= d),
    ("publishenddate", 15, lambda e, d: _day(e["publishend"][:10]) <= d),
])
def test_date_filters(api: Api, everything: Crawl, name: str, offset: int,
                      keep: Callable[[dict[str, str], dt.date], bool]) -> None:
    day = SANDBOX_START + dt.timedelta(days=offset)
    expected = _matching(everything, lambda e: keep(e, day))
    assert 0 < len(expected) < len(everything.events)
    got = api.ids(bookablefrominternet="false", **{name: day.isoformat()})
    assert set(got) == expected
    if name == "ongoingdate":
        # Courses that began before the day are included, not only events on that day.
        assert any(_day(everything.events[i]["startdate"]) < day for i in got)


def test_filters_combine_with_and(api: Api, everything: Crawl) -> None:
    facts = _facts(api.app)
    unit = sorted({e["businessunit__id"] for e in everything.events.values()})[0]
    low, high = SANDBOX_START - dt.timedelta(days=60), SANDBOX_START + dt.timedelta(days=30)
    expected = _matching(everything, lambda e: e["businessunit__id"] == unit and _day(e["startdate"]) >= low
                         and _day(e["enddate"]) <= high and facts[e["id"]].internet)
    assert expected
    got = api.ids(businessunitids=unit, startdate=low.isoformat(), enddate=high.isoformat())
    assert set(got) == expected
    assert api.ids(startdate="2026-05-01", enddate="2026-04-01") == []


def test_includebooking_keeps_events_open_for_booking_now(api: Api, everything: Crawl) -> None:
    now = api.app.now.timestamp()
    expected = _matching(everything, lambda e: int(e["bookableearliest__timepoint__timestamp"]) <= now
                         <= int(e["bookablelatest__timepoint__timestamp"]))
    assert 0 < len(expected) < len(everything.events) / 2
    assert set(api.ids(includebooking="true", **EVERYTHING)) == expected
    assert set(api.ids(includebooking="false", **EVERYTHING)) == set(everything.events)
    root = api.document(includebooking="true", includeparticipants="true")
    assert {e.findtext("registered") for e in root.findall("event")} == {"false"}


# ---- the XML -------------------------------------------------------------------------------


def test_elements_are_in_the_documents_order(api: Api) -> None:
    for participants in ("false", "true"):
        root = api.document(includeparticipants=participants, **EVERYTHING)
        with_order = 0
        for event in root.findall("event"):
            tags = [child.tag for child in event]
            expected = [t for t in DOC_ORDER if (t != "orderid" or event.find("orderid") is not None)
                        and (t != "participants" or participants == "true")]
            assert tags == expected
            with_order += event.find("orderid") is not None
            for name in ("bookableearliest", "bookablelatest"):
                [timepoint] = list(event.find(name))
                assert timepoint.tag == "timepoint"
                assert [child.tag for child in timepoint] == TIMEPOINT
            assert [child.tag for child in event.find("businessunit")] == ["id", "name"]
            for participant in event.iterfind("participants/participant"):
                assert [child.tag for child in participant] == PARTICIPANT
        count = len(root.findall("event"))
        assert 0.15 * count < with_order < 0.45 * count


def test_values_look_as_documented(everything: Crawl) -> None:
    events = list(everything.events.values())
    assert len(events) == len({e["id"] for e in events}) == len({e["code"] for e in events})
    untimed = 0
    for e in events:
        assert e["id"].isdigit() and e["productid"].isdigit() and e["businessunit__id"].isdigit()
        for name in ("lastupdate", "publishstart", "publishend"):
            assert LOCAL_MINUTE.fullmatch(e[name]), (name, e[name])
        assert DATE.fullmatch(e["startdate"]) and DATE.fullmatch(e["enddate"])
        assert e["registered"] == "false"
        assert re.fullmatch(rf"{e['startdate'][:4]}[A-Z]{{4}}\d{{3,}}", e["code"]), e["code"]
        if e["time"]:
            hours, minutes = map(int, e["time"].split(":"))
            assert re.fullmatch(r"\d{2}:\d{2}", e["time"]) and minutes % 15 == 0
            assert dt.time(6) <= dt.time(hours, minutes) <= dt.time(21)
        else:
            untimed += 1
        occasions = int(e["numberofoccasions"])
        start, end = _day(e["startdate"]), _day(e["enddate"])
        assert occasions == 1 or 6 <= occasions <= 12
        assert end == start + dt.timedelta(days=7 * (occasions - 1))
        slots = int(e["bookableslots"])
        assert 8 <= slots <= 40 and 0 <= int(e["filledslots"]) <= slots
        assert e["publishend"] == f"{e['enddate']} 23:59"
        assert e["businessunit__name"]
        if "orderid" in e:
            assert e["orderid"].isdigit()
    courses = sum(e["numberofoccasions"] != "1" for e in events)
    assert 0.1 * len(events) < courses < 0.35 * len(events)
    assert 0 < untimed < 0.15 * len(events)
    starts = [_day(e["startdate"]) for e in events]
    assert min(starts) >= SANDBOX_START - dt.timedelta(days=120)
    assert max(starts) <= SANDBOX_START + dt.timedelta(days=90)


def test_text_is_escaped(api: Api, everything: Crawl) -> None:
    body = api.get(**EVERYTHING).content
    assert b"&amp;" in body
    names = {e["name"] for e in everything.events.values()} | {e["businessunit__name"] for e in everything.events.values()}
    assert any("&" in name for name in names)
    descriptions = "".join(e["description"] for e in everything.events.values())
    assert "&" in descriptions


def test_timepoints_read_as_stockholm_time(everything: Crawl) -> None:
    offsets = set()
    for e in everything.events.values():
        for name in ("bookableearliest", "bookablelatest"):
            prefix = f"{name}__timepoint__"
            stamp, local = int(e[prefix + "timestamp"]), e[prefix + "datetime"]
            assert LOCAL_MINUTE.fullmatch(local)
            assert e[prefix + "date"] == local[:10] and e[prefix + "time"] == local[11:]
            assert dt.datetime.fromtimestamp(stamp, STOCKHOLM).strftime(MINUTE) == local
            assert _utc(local).timestamp() == stamp
            offsets.add(dt.datetime.fromtimestamp(stamp, STOCKHOLM).utcoffset())
    assert offsets == {dt.timedelta(hours=1), dt.timedelta(hours=2)}


def test_booking_window_and_publishing(api: Api, everything: Crawl) -> None:
    now = api.app.now
    for e in everything.events.values():
        opens = int(e["bookableearliest__timepoint__timestamp"])
        closes = int(e["bookablelatest__timepoint__timestamp"])
        start = _start(e).timestamp()
        assert opens < closes <= start
        # At the start or 1–2 hours before it, by the wall clock.
        wall_start = dt.datetime.strptime(f"{e['startdate']} {e['time'] or '00:00'}", MINUTE)
        wall_close = dt.datetime.strptime(e["bookablelatest__timepoint__datetime"], MINUTE)
        assert wall_start - wall_close in (dt.timedelta(0), dt.timedelta(hours=1), dt.timedelta(hours=2))
        assert 7 <= (_day(e["startdate"]) - _day(e["bookableearliest__timepoint__date"])).days <= 30
        assert _utc(e["publishstart"]).timestamp() <= opens
        assert _utc(e["lastupdate"]) <= now
        assert _utc(e["publishstart"]) - _utc(e["lastupdate"]) < dt.timedelta(minutes=16)


def test_participants_fill_the_slots(api: Api, everything: Crawl) -> None:
    now = api.app.now.timestamp()
    per_event = Counter(event_id for event_id, _ in everything.participants)
    bookings = [booking for _, booking in everything.participants]
    assert len(bookings) == len(set(bookings))
    assert 500 <= len(bookings) <= 1_200
    full = 0
    for event_id, e in everything.events.items():
        filled, slots = int(e["filledslots"]), int(e["bookableslots"])
        assert filled == per_event[event_id] <= slots
        full += filled == slots
        if int(e["bookableearliest__timepoint__timestamp"]) > now:
            assert filled == 0
        elif _start(e).timestamp() <= now:
            assert filled >= int(0.4 * slots)
    assert full >= 3
    assert any(n == 0 for n in (per_event[i] for i in everything.events))


def test_participants_are_pool_people_booked_once_per_event(api: Api) -> None:
    pool = PersonPool(SEED, SCALES["small"].people)
    root = api.document(includeparticipants="true", **EVERYTHING)
    for event in root.findall("event"):
        people = [p.findtext("personid") for p in event.iterfind("participants/participant")]
        assert len(people) == len(set(people))
        bookings = [int(p.findtext("eventbookingid")) for p in event.iterfind("participants/participant")]
        assert bookings == sorted(bookings)  # listed in booking order
        for participant in event.iterfind("participants/participant"):
            person = pool[int(participant.findtext("personid")) - PERSON_ID_BASE]
            assert participant.findtext("firstname") == person.first_name
            assert participant.findtext("lastname") == person.last_name


def test_participants_only_when_asked(api: Api) -> None:
    for params in ({}, {"includeparticipants": "false"}):
        root = api.document(**params, **EVERYTHING)
        assert root.find("event/participants") is None
    root = api.document(includeparticipants="true", **EVERYTHING)
    events = root.findall("event")
    assert all(event.find("participants") is not None for event in events)
    empty = [e for e in events if e.findtext("filledslots") == "0"]
    assert empty and all(len(e.find("participants")) == 0 for e in empty)
    assert b"<participants/>" in api.get(includeparticipants="true", **EVERYTHING).content


def test_event_ids_hook_lists_every_event(api: Api, everything: Crawl) -> None:
    ids = api.app.event_ids()
    assert all(isinstance(i, str) for i in ids)
    assert sorted(ids, key=int) == sorted(everything.events, key=int)
    assert 60 <= len(ids) <= 100


# ---- streaming and connections ---------------------------------------------------------------


def _read_chunked(sock: socket.socket) -> tuple[bytes, list[bytes], bytes]:
    """One HTTP/1.1 response read by hand: (head, chunks, leftover bytes)."""
    buffer = b""

    def need(size: int) -> None:
        nonlocal buffer
        while len(buffer) < size:
            data = sock.recv(65536)
            assert data, "connection closed early"
            buffer += data

    def line() -> bytes:
        nonlocal buffer
        while b"\r\n" not in buffer:
            need(len(buffer) + 1)
        text, _, buffer = buffer.partition(b"\r\n")
        return text

    head_lines = []
    while (text := line()) != b"":
        head_lines.append(text)
    chunks = []
    while True:
        size = int(line(), 16)
        if size == 0:
            assert line() == b""
            return b"\r\n".join(head_lines), chunks, buffer
        need(size + 2)
        chunks.append(buffer[:size])
        assert buffer[size:size + 2] == b"\r\n"
        buffer = buffer[size + 2:]


def test_events_are_sent_chunked_by_hand_framing(api: Api) -> None:
    query = f"apikey={DEMO_API_KEY}&includeparticipants=true&startdate=1970-01-01&bookablefrominternet=false"
    request = f"GET {EVENTS_PATH}?{query} HTTP/1.1\r\nHost: sandbox\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", api.server.port), timeout=10) as sock:
        bodies = []
        for _ in range(2):  # two requests on one connection: keep-alive after a chunked body
            sock.sendall(request)
            head, chunks, leftover = _read_chunked(sock)
            assert leftover == b""
            headers = head.lower()
            assert headers.startswith(b"http/1.1 200")
            assert b"transfer-encoding: chunked" in headers and b"content-length" not in headers
            assert len(chunks) >= 3  # declaration and <events>, the events, </events>
            bodies.append(b"".join(chunks))
    assert bodies[0] == bodies[1] == api.http.get(EVENTS_PATH, params=query).content


def test_http_1_0_clients_get_the_body_unframed(api: Api) -> None:
    request = f"GET {EVENTS_PATH}?apikey={DEMO_API_KEY} HTTP/1.0\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", api.server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head and b"chunked" not in head.lower()
    assert body == api.get().content


def test_keep_alive_across_streamed_and_plain_responses(api: Api) -> None:
    with httpx.Client(base_url=api.server.base_url, timeout=10) as client:
        addresses = []
        for key in (DEMO_API_KEY, "wrong", DEMO_API_KEY):
            response = client.get(EVENTS_PATH, params={"apikey": key, "includeparticipants": "true"})
            addresses.append(response.extensions["network_stream"].get_extra_info("client_addr"))
            if key == DEMO_API_KEY:
                assert response.headers["transfer-encoding"] == "chunked"
                assert "content-length" not in response.headers
                ET.fromstring(response.content)
            else:
                assert response.status_code == 403 and "content-length" in response.headers
    assert len(set(addresses)) == 1


class _Scripted(SandboxApp):
    """A tiny app whose responses the test chooses."""

    vendor = "scripted"

    def __init__(self, respond: Callable[[], SandboxResponse]) -> None:
        super().__init__(start_date=SANDBOX_START)
        self.respond = respond

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> SandboxResponse:
        return self.respond()

    def _advance_one_day(self) -> dict[str, int]:
        return {}

    def settings(self, base_url: str) -> dict[str, str]:
        return {}


def test_a_stream_failing_mid_body_closes_the_connection() -> None:
    def failing() -> Iterator[bytes]:
        yield b"<events><event>"
        raise RuntimeError("boom")

    script = iter([
        lambda: SandboxResponse.xml_stream(failing()),
        lambda: SandboxResponse.xml("<ok/>"),
        lambda: SandboxResponse.xml_stream(iter([b"<a>", b"", b"</a>"])),
    ])
    with SandboxServer(_Scripted(lambda: next(script)())) as server, httpx.Client(base_url=server.base_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/x")
        plain = client.get("/x")  # a new connection works
        assert plain.status_code == 200 and plain.text == "<ok/>"
        assert plain.headers["content-length"] == "5"
        streamed = client.get("/x")
        assert streamed.text == "<a></a>" and streamed.headers["transfer-encoding"] == "chunked"


def test_a_stream_failing_before_its_first_chunk_answers_500() -> None:
    def failing() -> Iterator[bytes]:
        raise RuntimeError("boom")
        yield b""  # pragma: no cover

    with SandboxServer(_Scripted(lambda: SandboxResponse.xml_stream(failing()))) as server:
        response = httpx.get(server.base_url + "/x")
        assert response.status_code == 500
        assert response.json()["error"] == "internal sandbox error"


def test_streamed_bodies_encode_whole_in_process() -> None:
    response = SandboxResponse.xml_stream([b"<a>", b"b", b"</a>"])
    assert response.is_stream and response.content_type == "application/xml; charset=utf-8"
    assert response.encoded() == b"<a>b</a>"
    for body in (b"x", "x", {"a": 1}, [1, 2], ("a",)):
        assert not SandboxResponse(200, body).is_stream


# ---- hooks ------------------------------------------------------------------------------------


def test_requests_served_counts_api_requests(make_api: Callable[..., Api]) -> None:
    api = make_api()
    before = api.app.requests_served
    api.get()
    api.get(key="wrong")
    api.get(path="/nope")
    api.http.get("/_sandbox/clock")
    assert api.app.requests_served == before + 3


def test_fail_next_answers_one_error(make_api: Callable[..., Api]) -> None:
    api = make_api()
    api.app.fail_next(503, "ServiceUnavailable", "Try again <later> & soon")
    response = api.get()
    assert response.status_code == 503
    assert _errors(response) == [("ServiceUnavailable", "Try again <later> & soon")]
    assert api.get().status_code == 200
    api.app.fail_next(500, "InternalError", "Database timeout")
    assert _errors(api.get(key="wrong")) == [("InternalError", "Database timeout")]
    assert api.get(key="wrong").status_code == 403


def test_break_next_ends_cleanly_with_broken_xml(make_api: Callable[..., Api]) -> None:
    api = make_api()
    whole = api.get(includeparticipants="true", **EVERYTHING).content
    api.app.break_next()
    with httpx.Client(base_url=api.server.base_url, timeout=10) as client:
        params = {"apikey": DEMO_API_KEY, "includeparticipants": "true", **EVERYTHING}
        broken = client.get(EVENTS_PATH, params=params)  # the transfer itself completes
        assert broken.status_code == 200
        assert broken.headers["transfer-encoding"] == "chunked"
        with pytest.raises(ET.ParseError):
            ET.fromstring(broken.content)
        assert b"</events>" not in broken.content
        complete = broken.content.count(b"</event>")
        assert complete >= 1
        assert whole.startswith(broken.content)  # a prefix of the real document, cut mid-element
        assert not broken.content.rstrip().endswith(b">")
        head = broken.content[: broken.content.rindex(b"</event>") + len(b"</event>")] + b"</events>"
        assert len(ET.fromstring(head).findall("event")) == complete
        again = client.get(EVENTS_PATH, params=params)  # same connection, whole again
        assert again.content == whole


# ---- determinism --------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(make_api: Callable[..., Api]) -> None:
    first, second, other = make_api(), make_api(), make_api(seed=SEED + 1)
    params = {"includeparticipants": "true", **EVERYTHING}
    assert first.get(**params).content == second.get(**params).content
    assert first.get(**params).content != other.get(**params).content
    assert first.app.event_ids() == second.app.event_ids()


def test_events_override_keeps_the_distributions() -> None:
    base, bigger = _app(), _app(events=400)
    assert len(base.event_ids()) == SCALES["small"].events
    assert len(bigger.event_ids()) == 400
    starts = [event.startdate for event in bigger.events]
    assert min(starts) >= SANDBOX_START - dt.timedelta(days=120)
    assert max(starts) <= SANDBOX_START + dt.timedelta(days=90)
    per_event = bigger.participant_count() / 400
    assert 0.6 < per_event / (base.participant_count() / len(base.events)) < 1.6


# ---- the simulated clock ------------------------------------------------------------------------


def _check_one_day(api: Api, before: Crawl) -> tuple[Crawl, dict[str, Any]]:
    """Advance one day and check what changed against the day's summary."""
    summary = api.advance(1)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["today"] == api.app.now.date().isoformat()
    after = api.everything()
    now = api.app.now
    since = now - dt.timedelta(days=1)
    first_ids = set(before.events)

    new = set(after.events) - first_ids
    assert len(new) == summary["new_events"]
    assert first_ids <= set(after.events)
    assert all(int(i) > max(int(j) for j in first_ids) for i in new)
    for event_id in new:
        event = after.events[event_id]
        assert since < _utc(event["lastupdate"]) <= now
        days_ahead = (_day(event["startdate"]) - now.astimezone(STOCKHOLM).date()).days
        assert 20 <= days_ahead <= 60
        assert int(event["bookableearliest__timepoint__timestamp"]) > now.timestamp()
        assert event["filledslots"] == "0"
    assert new <= set(api.ids(startdate="1970-01-01", bookablefrominternet="false"))

    moved = {i for i in first_ids if after.events[i]["lastupdate"] != before.events[i]["lastupdate"]}
    assert len(moved) == summary["modified_events"]
    for event_id in first_ids:
        old, current = before.events[event_id], after.events[event_id]
        changed = any(old[f] != current[f] for f in ("name", "time", "bookableslots"))
        assert changed == (event_id in moved), event_id
        if event_id in moved:
            assert since < _utc(current["lastupdate"]) <= now
            assert _start(current) > now

    added = after.participants - before.participants
    cancelled = before.participants - after.participants
    assert len(added) == summary["new_bookings"]
    assert len(cancelled) == summary["cancelled_bookings"]
    if added:
        assert min(int(b) for _, b in added) > max(int(b) for _, b in before.participants)
    for event_id, _ in added:
        event = after.events[event_id]
        assert int(event["bookableearliest__timepoint__timestamp"]) <= now.timestamp()
        assert int(event["bookablelatest__timepoint__timestamp"]) > since.timestamp()
    for event_id, _ in cancelled:
        assert _start(after.events[event_id]) > now
    per_event = Counter(event_id for event_id, _ in after.participants)
    for event_id, event in after.events.items():
        assert int(event["filledslots"]) == per_event[event_id] <= int(event["bookableslots"])
    # Bookings and cancellations alone never move lastupdate.
    refilled = {i for i in first_ids if before.events[i]["filledslots"] != after.events[i]["filledslots"]}
    summary["refilled_only"] = len(refilled - moved)
    return after, summary


def test_advance_creates_modifies_books_and_cancels(make_api: Callable[..., Api]) -> None:
    api = make_api()
    crawled = api.everything()
    totals: Counter[str] = Counter()
    for _ in range(3):
        crawled, summary = _check_one_day(api, crawled)
        totals.update({key: summary[key] for key in (*SUMMARY_KEYS, "refilled_only")})
    assert all(totals[key] >= 1 for key in (*SUMMARY_KEYS, "refilled_only")), totals


def test_advancing_two_days_equals_one_day_twice(make_api: Callable[..., Api]) -> None:
    once, twice = make_api(), make_api()
    together = once.advance(2)
    day_one, day_two = twice.advance(1), twice.advance(1)
    for key in SUMMARY_KEYS:
        assert together[key] == day_one[key] + day_two[key]
    params = {"includeparticipants": "true", **EVERYTHING}
    assert once.get(**params).content == twice.get(**params).content
    assert once.get().content == twice.get().content
    assert once.http.get("/_sandbox/clock").json() == twice.http.get("/_sandbox/clock").json()


def test_default_list_follows_the_clock(make_api: Callable[..., Api]) -> None:
    api = make_api()
    before = set(api.ids())
    api.advance(20)
    today = _local_today(api.app)
    after = set(api.ids())
    everything = api.everything()
    assert all(_day(everything.events[i]["enddate"]) >= today for i in after)
    assert any(_day(everything.events[i]["enddate"]) < today for i in before)  # those have ended since


# ---- daylight saving time ----------------------------------------------------------------------


@pytest.mark.parametrize(("local", "utc"), [
    ("2026-01-15 12:00", "2026-01-15 11:00"),
    ("2026-07-01 12:00", "2026-07-01 10:00"),
    ("2026-03-29 01:59", "2026-03-29 00:59"),  # the last CET minute
    ("2026-03-29 02:30", "2026-03-29 01:30"),  # skipped in spring: read with the winter offset
    ("2026-03-29 03:00", "2026-03-29 01:00"),
    ("2026-10-25 01:59", "2026-10-24 23:59"),
    ("2026-10-25 02:30", "2026-10-25 00:30"),  # repeated in autumn: the first (summer) reading
    ("2026-10-25 03:00", "2026-10-25 02:00"),
    ("2025-10-26 02:15", "2025-10-26 00:15"),
    ("2027-03-28 03:30", "2027-03-28 01:30"),
])
def test_stockholm_to_utc(local: str, utc: str) -> None:
    assert stockholm_to_utc(local) == dt.datetime.strptime(utc, MINUTE).replace(tzinfo=dt.UTC)


def _check_timepoints_across(crawled: Crawl, change: dt.date) -> None:
    around = [e for e in crawled.events.values()
              if abs((_day(e["bookablelatest__timepoint__date"]) - change).days) <= 10
              or abs((_day(e["bookableearliest__timepoint__date"]) - change).days) <= 10]
    offsets = set()
    for e in around:
        for name in ("bookableearliest", "bookablelatest"):
            prefix = f"{name}__timepoint__"
            stamp, local = int(e[prefix + "timestamp"]), e[prefix + "datetime"]
            assert stockholm_to_utc(local).timestamp() == stamp, (e["id"], name, local, stamp)
            naive = dt.datetime.strptime(local, MINUTE).replace(tzinfo=dt.UTC)
            offsets.add(naive.timestamp() - stamp)
        assert stockholm_to_utc(e["publishend"]).timestamp() >= int(e["bookablelatest__timepoint__timestamp"])
    assert offsets == {3600, 7200}  # readings on both sides of the change


def test_spring_dst_change_in_the_timepoints(everything: Crawl) -> None:
    spring = dt.date(2026, 3, 29)
    assert any(_day(e["startdate"]) < spring for e in everything.events.values())
    assert any(_day(e["startdate"]) > spring for e in everything.events.values())
    _check_timepoints_across(everything, spring)


def test_autumn_dst_change_in_the_timepoints(make_api: Callable[..., Api]) -> None:
    api = make_api(start_date=dt.date(2026, 10, 20), seed=3)
    _check_timepoints_across(api.everything(), dt.date(2026, 10, 25))


# ---- a large response ------------------------------------------------------------------------


def test_a_large_response_is_streamed_whole() -> None:
    started = time.perf_counter()
    app = BrpSandbox(seed=11, scale="large", start_date=SANDBOX_START, events=20_000)
    assert time.perf_counter() - started < 15
    expected = app.event_ids()
    assert len(expected) == 20_000
    params = {"apikey": DEMO_API_KEY, "includeparticipants": "true", **EVERYTHING}
    events = participants = received = 0
    ids: set[str] = set()
    with SandboxServer(app) as server, httpx.Client(base_url=server.base_url, timeout=120) as client:
        with client.stream("GET", EVENTS_PATH, params=params) as response:
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            parser = ET.XMLPullParser(events=("end",))
            for data in response.iter_bytes():
                received += len(data)
                parser.feed(data)
                for _, element in parser.read_events():
                    if element.tag == "participant":
                        participants += 1
                    elif element.tag == "event":
                        events += 1
                        ids.add(element.findtext("id"))
                        element.clear()
            parser.close()
    assert events == len(ids) == len(expected)
    assert ids == set(expected)
    assert participants == app.participant_count() > 5 * events
    assert received > 50_000_000

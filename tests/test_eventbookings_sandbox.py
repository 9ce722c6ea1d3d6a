"""The EventBookings sandbox over real HTTP: OAuth2 token, paging, payloads, money, clock."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandboxes.eventbookings import (
    API_PREFIX,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    JOIN_WAITING_LIST_PATH,
    SCALES,
    TOKEN_PATH,
    WAITING_LIST_PATH,
    EventBookingsSandbox,
)
from sandboxes.opus import DEMO_API_KEY as OPUS_KEY
from sandboxes.opus import OpusSandbox
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.sandbox_client import SandboxClient, serving

SEED = 7
CREDENTIALS = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "grant_type": "client_credentials"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
MINUTE = "%Y-%m-%d %H:%M"
MONEY = re.compile(r"([$£])(\d{1,3}(?:,\d{3})*)\.(\d{1,2})")
SYMBOLS = {"AUD": "$", "NZD": "$", "USD": "$", "GBP": "£"}
CENT = Decimal("0.01")

# Every key of the document's GET /events example, in its order.
EVENT_KEYS = [
    "uuid", "status", "extended_status", "name", "display_name", "description", "banner", "resources", "links",
    "timezone", "currency", "enable_datetime_conversion", "tax", "created_on", "updated_on", "attending_on",
    "org", "coupons", "early_bird_discount", "merchandise", "event_settings_reviewed", "settings",
    "ticket_instruction", "custom_attributes", "occurrence", "configuration", "tickets", "listing", "sessions",
    "refund", "metrics", "fees", "activities", "interactions",
]
EXTENDED_STATUS = ["publishing", "listing", "live", "ended", "suspended", "cancelled"]
TICKET_KEYS = {
    "uuid", "display_order", "name", "description", "quantity", "max_quantity_per_customer", "quantity_sold",
    "status", "session_id", "parent_id", "category", "url_digital_pass", "pricing_details",
    "early_bird_discount", "coupons", "settings", "ticket_instruction", "custom_attributes",
}
SESSION_KEYS = {
    "type", "uuid", "status", "name", "display_name", "description", "image", "created_on", "updated_on",
    "configuration", "tickets", "session_booking_starts_on", "session_booking_ends_on", "session_starts_on",
    "session_ends_on",
}
ORDER_KEYS = {
    "uuid", "order_number", "status", "currency", "buyer", "line_items", "subtotal", "discount", "fees", "total",
    "refunded_amount", "payment_method", "ordered_on", "refunded_on", "created_on", "updated_on",
}
LINE_KEYS = {"uuid", "ticket_uuid", "ticket_name", "pricing_uuid", "variation", "quantity", "unit_price", "amount"}
ATTENDEE_KEYS = {
    "uuid", "order_uuid", "ticket_uuid", "ticket_name", "variation", "first_name", "last_name", "email", "phone",
    "status", "checked_in", "checked_in_on", "session_uuids", "created_on", "updated_on",
}
SUMMARY_KEYS = {"new_events", "changed_events", "new_orders", "refunds", "partial_refunds", "cancelled_events",
                "check_ins", "joined_waiting_list", "left_waiting_list"}


# ---- fixtures -------------------------------------------------------------------


class Api(SandboxClient):
    """A plain httpx client for one sandbox: fetches a token and sends it."""

    def __init__(self, server: SandboxServer) -> None:
        super().__init__(server, timeout=10)
        self.app: EventBookingsSandbox = server.app  # type: ignore[assignment]
        self.token = self.grant()

    def grant(self) -> str:
        response = self.http.post(TOKEN_PATH, data=CREDENTIALS)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.http.get(API_PREFIX + path, params=params, headers=headers)

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def pages(self, path: str, key: str, rows: int = 100, **params: Any) -> list[dict[str, Any]]:
        """Follow position until the records are read, as a client would."""
        items: list[dict[str, Any]] = []
        while True:
            body = self.json(path, position=len(items), rows=rows, **params)
            page = body[key]
            if key == "sessions":
                page = [{**s, "group": g["type"]} for g in page for s in g["session_lists"]]
            items.extend(page)
            if not page or len(items) >= int(body["pagination"]["records"]):
                return items

    def events(self, **params: Any) -> list[dict[str, Any]]:
        return self.pages("/events", "events", **params)

    def post(self, path: str) -> httpx.Response:
        return self.http.post(API_PREFIX + path, headers={"Authorization": f"Bearer {self.token}"})


def _app(**kwargs: Any) -> EventBookingsSandbox:
    return EventBookingsSandbox(**{"seed": SEED, "scale": "small", "start_date": SANDBOX_START, **kwargs})


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A read-only sandbox shared by the tests that do not change it."""
    with SandboxServer(_app()) as server:
        client = Api(server)
        yield client
        client.close()


@pytest.fixture(scope="module")
def everything(api: Api) -> dict[str, Any]:
    """Every event with its tickets, sessions, orders and attendees, read once."""
    events = api.events()
    return {
        "events": events,
        "tickets": {e["uuid"]: api.pages(f"/events/{e['uuid']}/tickets", "tickets") for e in events},
        "sessions": {e["uuid"]: api.pages(f"/events/{e['uuid']}/sessions", "sessions") for e in events},
        "orders": {e["uuid"]: api.pages(f"/events/{e['uuid']}/orders", "orders") for e in events},
        "attendees": {e["uuid"]: api.pages(f"/events/{e['uuid']}/attendees", "attendees") for e in events},
    }


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    """Fresh sandboxes for tests that move the clock or write."""
    with serving() as serve:
        yield lambda **kwargs: serve(_app(**kwargs), Api)


def _crawl(api: Api) -> dict[str, Any]:
    """Everything the API serves, in the order it serves it."""
    shots: dict[str, Any] = {"events": api.events()}
    for event in shots["events"]:
        uuid = event["uuid"]
        shots[uuid] = [api.json(f"/events/{uuid}")]
        for kind in ("sessions", "tickets", "attendees", "orders"):
            shots[uuid].append(api.pages(f"/events/{uuid}/{kind}", kind))
    return shots


def _status(event: dict[str, Any], name: str) -> str:
    return next(item["value"] for item in event["extended_status"] if item["name"] == name)


def _money(text: str, currency: str) -> Decimal:
    match = MONEY.fullmatch(text)
    assert match, text
    assert match.group(1) == SYMBOLS[currency], (text, currency)
    return Decimal(f"{match.group(2).replace(',', '')}.{match.group(3)}")


def _utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, MINUTE).replace(tzinfo=dt.UTC)


def _places_per_unit(tickets: list[dict[str, Any]]) -> dict[str, int]:
    places = {}
    for ticket in tickets:
        pricing = ticket["pricing_details"]
        first = pricing if isinstance(pricing, dict) else pricing[0]
        places[ticket["uuid"]] = int(first["quantity_included"])
    return places


# ---- token endpoint ---------------------------------------------------------------


def test_token_grant(api: Api) -> None:
    issued = api.app.tokens_issued
    response = api.http.post(TOKEN_PATH, data=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer" and body["scope"] == "all IdentityServerApi"
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 40
    assert body["access_token"] != api.token
    assert api.app.tokens_issued == issued + 1
    assert api.get("/events", token=body["access_token"]).status_code == 200


@pytest.mark.parametrize(("data", "error"), [
    ({**CREDENTIALS, "client_secret": "wrong"}, "invalid_client"),
    ({**CREDENTIALS, "client_id": "someone-else"}, "invalid_client"),
    ({"client_id": DEMO_CLIENT_ID, "grant_type": "client_credentials"}, "invalid_client"),
    ({**CREDENTIALS, "grant_type": "client_credential"}, "unsupported_grant_type"),
    ({**CREDENTIALS, "grant_type": "password"}, "unsupported_grant_type"),
    ({**CREDENTIALS, "grant_type": "authorization_code"}, "unsupported_grant_type"),
    ({"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}, "unsupported_grant_type"),
    ({**CREDENTIALS, "client_secret": "wrong", "grant_type": "password"}, "invalid_client"),  # client first
])
def test_token_errors_are_400_oauth_style(api: Api, data: dict[str, str], error: str) -> None:
    issued = api.app.tokens_issued
    response = api.http.post(TOKEN_PATH, data=data)
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert api.app.tokens_issued == issued


def test_token_body_must_be_form_encoded(api: Api) -> None:
    for kwargs in ({"json": CREDENTIALS}, {"content": b"client_id", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
                   {"content": b"\xff\xfe", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}):
        response = api.http.post(TOKEN_PATH, **kwargs)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_request"}


def test_token_path_other_methods_are_405(api: Api) -> None:
    assert api.http.get(TOKEN_PATH).status_code == 405
    assert api.http.put(TOKEN_PATH, data=CREDENTIALS).status_code == 405


# ---- API authentication and routing --------------------------------------------------


def _assert_401(response: httpx.Response, expired: bool = False) -> None:
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "message": "Unauthorized"}
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"')
    assert ('error_description="The token expired"' in challenge) == expired


def test_missing_or_unknown_token_is_401(api: Api) -> None:
    _assert_401(api.http.get(f"{API_PREFIX}/events"))
    _assert_401(api.get("/events", token="not-a-token"))
    _assert_401(api.http.get(f"{API_PREFIX}/events", headers={"Authorization": f"Basic {api.token}"}))


def test_revoked_tokens_are_401_and_a_new_grant_works(make_api: Callable[..., Api]) -> None:
    client = make_api()
    assert client.get("/events").status_code == 200
    client.app.revoke_tokens()
    _assert_401(client.get("/events"))
    client.token = client.grant()
    assert client.get("/events").status_code == 200
    assert client.app.tokens_issued == 2


def test_tokens_expire_in_real_time(make_api: Callable[..., Api]) -> None:
    client = make_api(token_lifetime=0.3)
    granted = client.http.post(TOKEN_PATH, data=CREDENTIALS).json()
    assert granted["expires_in"] == 1
    assert client.get("/events", token=granted["access_token"]).status_code == 200
    time.sleep(0.5)
    _assert_401(client.get("/events", token=granted["access_token"]), expired=True)


def test_simulated_clock_does_not_age_tokens(make_api: Callable[..., Api]) -> None:
    client = make_api()
    client.advance(3)
    assert client.get("/events").status_code == 200


def test_unknown_paths_and_methods_before_auth(api: Api) -> None:
    assert api.http.get(f"{API_PREFIX}/nowhere").status_code == 404
    assert api.http.get(f"{API_PREFIX}/events/x/speakers").status_code == 404
    assert api.http.get("/events").status_code == 404  # outside the API prefix
    response = api.http.post(f"{API_PREFIX}/events")
    assert response.status_code == 405
    assert response.json() == {"statusCode": 405, "message": "Method not allowed"}
    assert api.http.get(f"{API_PREFIX}/events/x/cancel").status_code == 405
    unknown = api.get("/events/00000000-0000-4000-8000-000000000000/orders")
    assert unknown.status_code == 404 and unknown.json()["statusCode"] == 404


def test_requests_served_counts_api_calls_only(make_api: Callable[..., Api]) -> None:
    client = make_api()
    assert client.app.requests_served == 0  # the token grant is not an API call
    client.get("/events")
    client.http.get(f"{API_PREFIX}/events")  # refused, still served
    client.http.get("/_sandbox/clock")
    client.http.post(TOKEN_PATH, data=CREDENTIALS)
    assert client.app.requests_served == 2


def test_secrets_never_appear_in_server_output(make_api: Callable[..., Api], capfd: pytest.CaptureFixture[str]) -> None:
    client = make_api()
    client.get("/events")
    client.http.post(TOKEN_PATH, data={**CREDENTIALS, "client_secret": "nope"})
    out, err = capfd.readouterr()
    for secret in (client.token, DEMO_CLIENT_SECRET):
        assert secret not in out and secret not in err


def test_settings_name_the_dlt_variables(api: Api) -> None:
    base = api.server.base_url
    assert api.app.settings(base) == {
        "SOURCES__EVENTBOOKINGS__BASE_URL": base + "/api",
        "SOURCES__EVENTBOOKINGS__TOKEN_URL": base + "/connect/token",
        "SOURCES__EVENTBOOKINGS__CLIENT_ID": DEMO_CLIENT_ID,
        "SOURCES__EVENTBOOKINGS__CLIENT_SECRET": DEMO_CLIENT_SECRET,
    }


# ---- pagination and ordering ----------------------------------------------------------


@pytest.mark.parametrize(("params", "parameter"), [
    ({"rows": 19}, "rows"), ({"rows": 101}, "rows"), ({"rows": "ten"}, "rows"), ({"rows": -20}, "rows"),
    ({"position": -1}, "position"), ({"position": "1.5"}, "position"), ({"order_by": "newest"}, "order_by"),
])
def test_bad_paging_is_400_naming_the_parameter(api: Api, everything: dict[str, Any], params: dict[str, Any],
                                                parameter: str) -> None:
    uuid = everything["events"][0]["uuid"]
    for path in ("/events", f"/events/{uuid}/attendees", f"/events/{uuid}/sessions"):
        response = api.get(path, **params)
        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400 and parameter in body["message"]
    assert api.get("/events", rows=19).json()["message"] == "rows must be between 20 and 100"


def test_rows_bounds_defaults_and_pagination_block(api: Api, everything: dict[str, Any]) -> None:
    uuid = max(everything["attendees"], key=lambda u: len(everything["attendees"][u]))
    total = len(everything["attendees"][uuid])
    assert total > 100
    default = api.json(f"/events/{uuid}/attendees")
    assert len(default["attendees"]) == 20
    assert default["pagination"] == {"records": str(total), "position": "0", "rows": "20", "order_by": ""}
    assert len(api.json(f"/events/{uuid}/attendees", rows=20)["attendees"]) == 20
    widest = api.json(f"/events/{uuid}/attendees", rows=100, position=5, order_by="name_ascending")
    assert len(widest["attendees"]) == 100
    assert widest["pagination"] == {"records": str(total), "position": "5", "rows": "100", "order_by": "name_ascending"}
    past = api.json(f"/events/{uuid}/attendees", position=total + 10)
    assert past["attendees"] == [] and past["pagination"]["records"] == str(total)
    events = api.json("/events", position=len(everything["events"]))
    assert events["events"] == [] and events["pagination"]["records"] == str(len(everything["events"]))


def test_pages_concatenate_to_the_full_list(make_api: Callable[..., Api]) -> None:
    client = make_api()
    client.advance(12)  # more events than one page of 20
    one_page = client.json("/events", rows=100)
    total = int(one_page["pagination"]["records"])
    assert 20 < total <= 100
    paged = client.events(rows=20)
    assert paged == one_page["events"]
    assert len({e["uuid"] for e in paged}) == total
    biggest = max(paged, key=lambda e: int(next(a["value"] for a in e["activities"] if a["name"] == "tickets_sold")))
    path = f"/events/{biggest['uuid']}/attendees"
    full = client.pages(path, "attendees", rows=100)
    by_20 = client.pages(path, "attendees", rows=20)
    assert len(full) > 40
    assert by_20 == full and len({a["uuid"] for a in full}) == len(full)
    assert len(full) == int(client.json(path)["pagination"]["records"])


def test_order_by_variants(api: Api, everything: dict[str, Any]) -> None:
    def names(rows: list[dict[str, Any]]) -> list[str]:
        return [r["name"].casefold() for r in rows]

    created = api.events(order_by="created_ascending")
    assert created == everything["events"]  # the default
    assert [(e["created_on"], e["uuid"]) for e in created] == sorted((e["created_on"], e["uuid"]) for e in created)
    descending = api.events(order_by="created_descending")
    assert [e["created_on"] for e in descending] == sorted((e["created_on"] for e in created), reverse=True)
    starting = api.events(order_by="starting")
    assert [e["attending_on"][0]["utc"] for e in starting] == sorted(e["attending_on"][0]["utc"] for e in created)
    assert names(api.events(order_by="name_ascending")) == sorted(names(created))
    assert names(api.events(order_by="name_descending")) == sorted(names(created), reverse=True)

    uuid = max(everything["attendees"], key=lambda u: len(everything["attendees"][u]))
    attendees = api.pages(f"/events/{uuid}/attendees", "attendees", order_by="name_ascending")
    keys = [(a["last_name"].casefold(), a["first_name"].casefold()) for a in attendees]
    assert keys == sorted(keys) and len(attendees) == len(everything["attendees"][uuid])
    default = everything["attendees"][uuid]
    assert [a["created_on"] for a in default] == sorted(a["created_on"] for a in default)
    assert api.pages(f"/events/{uuid}/attendees", "attendees", order_by="starting") == default

    orders = api.pages(f"/events/{uuid}/orders", "orders", order_by="name_descending")
    numbers = [int(o["order_number"].removeprefix("EB-")) for o in orders]
    assert numbers == sorted(numbers, reverse=True)
    tickets = api.pages(f"/events/{uuid}/tickets", "tickets", order_by="name_ascending")
    assert names(tickets) == sorted(names(tickets))
    assert api.get(f"/events/{uuid}/orders", order_by="oldest").status_code == 400


def test_event_filters(api: Api, everything: dict[str, Any]) -> None:
    events = everything["events"]
    published = [e["uuid"] for e in events if _status(e, "publishing") == "Published"]
    drafts = [e["uuid"] for e in events if _status(e, "publishing") == "Draft"]
    assert published and drafts
    assert [e["uuid"] for e in api.events(status="published")] == published
    assert [e["uuid"] for e in api.events(status="draft")] == drafts
    assert [e["uuid"] for e in api.events(status="ready")] == drafts
    assert [e["uuid"] for e in api.events(status="live")] == [e["uuid"] for e in events if _status(e, "live") == "true"]
    currency = events[0]["currency"]
    assert [e["uuid"] for e in api.events(currency=currency.lower())] == [e["uuid"] for e in events if e["currency"] == currency]
    word = events[0]["name"].split()[1]
    found = api.events(search_q=word.upper())
    assert found and all(word.lower() in e["name"].lower() for e in found)
    assert len(api.events(event_type="venu", time_filter="today", my="all")) == len(events)  # accepted, ignored
    assert api.get("/events", status="archived").status_code == 400


# ---- payloads -------------------------------------------------------------------------


def test_event_shape(api: Api, everything: dict[str, Any]) -> None:
    for event in everything["events"]:
        uuid = event["uuid"]
        assert list(event) == EVENT_KEYS
        assert [s["name"] for s in event["extended_status"]] == EXTENDED_STATUS
        assert all(s["value"] in ("true", "false") for s in event["extended_status"][2:])
        assert event["status"] == "active"
        assert TIMESTAMP.fullmatch(event["created_on"]) and TIMESTAMP.fullmatch(event["updated_on"])
        assert event["created_on"] <= event["updated_on"] <= "2026-03-02 06:00:00"
        assert api.json(f"/events/{uuid}") == {"events": [event]}
        zone = ZoneInfo(event["timezone"])
        start, end = event["attending_on"]
        for pair in (start, end):
            assert set(pair) == {"utc", "local"}
            assert _utc(pair["utc"]).astimezone(zone).strftime(MINUTE) == pair["local"]
        minutes = (_utc(end["utc"]) - _utc(start["utc"])).total_seconds() / 60
        assert event["occurrence"] == {"type": "schedule", "attributes": [{"starts_on": start, "event_duration": minutes}]}
        assert 2 * 60 <= minutes <= 32 * 60
        assert 9 <= int(start["local"][11:13]) <= 19
        assert event["created_on"][:16] <= start["utc"]
        tickets = everything["tickets"][uuid]
        assert event["tickets"]["levels"] == tickets
        places = _places_per_unit(tickets)
        assert event["settings"]["event_capacity"] == sum(int(t["quantity"]) * places[t["uuid"]] for t in tickets)
        assert event["settings"]["booking_ends_on"]["utc"] == start["utc"]
        sessions = everything["sessions"][uuid]
        flattened = {s["uuid"]: s for s in event["sessions"]["session_lists"]}
        assert {s["uuid"]: {k: v for k, v in s.items() if k != "group"} for s in sessions} == flattened
        assert event["sessions"]["enabled"] == ("true" if sessions else "false")
        assert event["fees"]["currency"] == event["currency"]
        assert event["currency"] in SYMBOLS
        venue = event["configuration"]["attributes"][0]
        assert venue["name"] == "venue" and venue["value"]["address"]["city"]
        assert event["links"][-1] == {"name": "linkedin", "linkedin": event["links"][-1]["linkedin"]}
        assert _status(event, "ended") == ("true" if _utc(end["utc"]) <= dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC) else "false")


def test_sessions_are_grouped_by_type(api: Api, everything: dict[str, Any]) -> None:
    with_sessions = [u for u, s in everything["sessions"].items() if s]
    without = [u for u, s in everything["sessions"].items() if not s]
    assert with_sessions and without
    empty = api.json(f"/events/{without[0]}/sessions")
    assert empty == {"sessions": [], "pagination": {"records": "0", "position": "0", "rows": "20", "order_by": ""}}
    for uuid in with_sessions:
        body = api.json(f"/events/{uuid}/sessions")
        groups = body["sessions"]
        assert [g["type"] for g in groups] == [t for t in ("required", "optional") if any(g["type"] == t for g in groups)]
        assert all(g["session_lists"] and all(s["type"] == g["type"] for s in g["session_lists"]) for g in groups)
        assert int(body["pagination"]["records"]) == sum(len(g["session_lists"]) for g in groups)
        event = api.json(f"/events/{uuid}")["events"][0]
        start, end = _utc(event["attending_on"][0]["utc"]), _utc(event["attending_on"][1]["utc"])
        for session in everything["sessions"][uuid]:
            assert set(session) - {"group"} == SESSION_KEYS and session["status"] == "active"
            assert start <= _utc(session["session_starts_on"]["utc"]) < _utc(session["session_ends_on"]["utc"]) <= end
        assert "required" in {s["type"] for s in everything["sessions"][uuid]}


def test_ticket_prices_and_the_donation_quirk(everything: dict[str, Any]) -> None:
    formats = set()
    for event in everything["events"]:
        for ticket in everything["tickets"][event["uuid"]]:
            assert set(ticket) == TICKET_KEYS
            assert ticket["quantity"].isdigit() and ticket["quantity_sold"].isdigit()
            assert int(ticket["quantity_sold"]) <= int(ticket["quantity"])
            if ticket["category"] == "donation":
                assert isinstance(ticket["pricing_details"], dict)
                assert set(ticket["pricing_details"]) == {"uuid", "quantity_included", "quantity_sold"}
                continue
            assert ticket["category"] == "ticket"
            assert isinstance(ticket["pricing_details"], list) and ticket["pricing_details"]
            for pricing in ticket["pricing_details"]:
                assert set(pricing) == {"uuid", "variation", "price", "quantity_included", "quantity_sold"}
                _money(pricing["price"], event["currency"])
                formats.add(len(pricing["price"].split(".")[1]))
            if ticket["name"] == "VIP":
                assert [p["variation"] for p in ticket["pricing_details"]] == ["Gold", "Silver"]
            if ticket["name"] == "Group of 5":
                assert ticket["pricing_details"][0]["quantity_included"] == "5"
            sold = sum(int(p["quantity_sold"]) for p in ticket["pricing_details"])
            assert sold == int(ticket["quantity_sold"])
    assert formats == {1, 2}  # "$30.0" and "$45.00" both occur
    categories = Counter(t["category"] for ts in everything["tickets"].values() for t in ts)
    assert categories["donation"] and categories["ticket"]


def test_thousands_separator_in_some_prices(make_api: Callable[..., Api]) -> None:
    client = make_api()
    client.advance(10)
    prices = [p["price"] for e in client.events() for t in client.pages(f"/events/{e['uuid']}/tickets", "tickets")
              if isinstance(t["pricing_details"], list) for p in t["pricing_details"]]
    assert any("," in price for price in prices)
    for price in prices:
        _money(price, "GBP" if price.startswith("£") else "USD")


def test_order_money_is_exact_to_the_cent(everything: dict[str, Any]) -> None:
    statuses: Counter[str] = Counter()
    discounted = 0
    for event in everything["events"]:
        currency = event["currency"]
        orders = everything["orders"][event["uuid"]]
        if _status(event, "publishing") == "Draft":
            assert orders == []
        for order in orders:
            assert set(order) == ORDER_KEYS and set(order["buyer"]) == {"uuid", "first_name", "last_name", "email", "phone"}
            assert order["currency"] == currency and re.fullmatch(r"EB-\d{6}", order["order_number"])
            money = {k: _money(order[k], currency) for k in ("subtotal", "discount", "fees", "total", "refunded_amount")}
            lines = order["line_items"]
            assert lines
            for line in lines:
                assert set(line) == LINE_KEYS and isinstance(line["quantity"], int) and line["quantity"] > 0
                assert _money(line["amount"], currency) == _money(line["unit_price"], currency) * line["quantity"]
                assert (line["pricing_uuid"] is None) == (line["ticket_name"] == "Donation")
            assert money["subtotal"] == sum(_money(line["amount"], currency) for line in lines)
            assert money["total"] == money["subtotal"] - money["discount"] + money["fees"]
            net = money["subtotal"] - money["discount"]
            if net > 0:
                assert money["fees"] == Decimal("0.30") + (net * Decimal("0.034")).quantize(CENT, ROUND_HALF_UP)
                assert order["payment_method"] in ("card", "paypal", "invoice")
            else:
                assert money["fees"] == 0 and order["payment_method"] == "free"
            discounted += money["discount"] > 0
            status = order["status"]
            statuses[status] += 1
            if status == "refunded":
                assert money["refunded_amount"] == money["total"]
            elif status == "partially_refunded":
                assert any(money["refunded_amount"] == _money(line["unit_price"], currency) * units
                           for line in lines for units in range(1, line["quantity"] + 1))
                assert 0 < money["refunded_amount"] < money["total"]
            else:
                assert money["refunded_amount"] == 0
            assert (order["refunded_on"] is not None) == (status in ("refunded", "partially_refunded"))
            assert order["created_on"][:16] == order["ordered_on"]["utc"]
            assert order["created_on"] <= order["updated_on"]
    total = sum(statuses.values())
    assert total > 150 and statuses["completed"] > total * 0.8
    assert statuses["cancelled"] and statuses["refunded"] and statuses["partially_refunded"]
    assert 0 < discounted < total * 0.25


def test_attendees_are_the_valid_places_of_orders(everything: dict[str, Any]) -> None:
    for event in everything["events"]:
        uuid, currency = event["uuid"], event["currency"]
        places = _places_per_unit(everything["tickets"][uuid])
        attendees = everything["attendees"][uuid]
        per_order = Counter(a["order_uuid"] for a in attendees)
        orders = everything["orders"][uuid]
        for order in orders:
            total = sum(line["quantity"] * places[line["ticket_uuid"]] for line in order["line_items"])
            if order["status"] in ("cancelled", "refunded"):
                assert per_order[order["uuid"]] == 0, order["status"]
            elif order["status"] == "completed":
                assert per_order[order["uuid"]] == total
            else:  # some units of one line were refunded
                refunded = _money(order["refunded_amount"], currency)
                assert any(
                    refunded == _money(line["unit_price"], currency) * units
                    and per_order[order["uuid"]] == total - units * places[line["ticket_uuid"]]
                    for line in order["line_items"] for units in range(1, line["quantity"] + 1)
                )
        assert set(per_order) <= {o["uuid"] for o in orders if o["status"] in ("completed", "partially_refunded")}
        assert len({a["uuid"] for a in attendees}) == len(attendees)
        sessions = {s["uuid"] for s in everything["sessions"][uuid]}
        required = {s["uuid"] for s in everything["sessions"][uuid] if s["type"] == "required"}
        for attendee in attendees:
            assert set(attendee) == ATTENDEE_KEYS and attendee["status"] == "active"
            assert required <= set(attendee["session_uuids"]) <= sessions
            assert attendee["created_on"] <= attendee["updated_on"]
        buyers = Counter(o["buyer"]["email"] for o in orders if o["uuid"] in per_order)
        attending = {a["email"] for a in attendees}
        if buyers:
            assert sum(n for email, n in buyers.items() if email in attending) > 0.6 * sum(buyers.values())


def test_check_ins_after_the_start_only(everything: dict[str, Any]) -> None:
    now = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
    started = 0
    for event in everything["events"]:
        start = _utc(event["attending_on"][0]["utc"])
        attendees = everything["attendees"][event["uuid"]]
        checked = [a for a in attendees if a["checked_in"] == "true"]
        assert all(a["checked_in"] in ("true", "false") for a in attendees)
        if start > now:
            assert not checked and all(a["checked_in_on"] is None for a in attendees)
            continue
        if not attendees:
            continue
        started += 1
        share = len(checked) / len(attendees)
        assert 0.70 - 0.5 / len(attendees) <= share <= 0.85 + 0.5 / len(attendees)
        for attendee in checked:
            moment = _utc(attendee["checked_in_on"]["utc"])
            assert start - dt.timedelta(minutes=30) <= moment <= min(start + dt.timedelta(hours=1), now)
            assert attendee["updated_on"][:16] == attendee["checked_in_on"]["utc"]
    assert started >= 2


def test_emails_overlap_with_opus_at_the_same_seed(everything: dict[str, Any]) -> None:
    ours = {a["email"].strip().lower() for rows in everything["attendees"].values() for a in rows}
    ours |= {o["buyer"]["email"].strip().lower() for rows in everything["orders"].values() for o in rows}
    with SandboxServer(OpusSandbox(seed=SEED, scale="small", start_date=SANDBOX_START)) as opus, \
            httpx.Client(base_url=opus.base_url, params={"api_key": OPUS_KEY}, timeout=10) as client:
        events = client.get("/rest/api/v1/events", params={"limit": 1000}).json()[0]["events"]
        theirs = {
            r["email"].strip().lower()
            for event in events[:4]
            for r in client.get("/rest/api/v1/events/registrants",
                                params={"event_id": event["id"], "limit": 1000}).json()["registrants"]
        }
    assert len(ours & theirs) >= 20


# ---- determinism and the clock -------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(make_api: Callable[..., Api]) -> None:
    first, second, other = make_api(seed=3), make_api(seed=3), make_api(seed=4)
    assert _crawl(first) == _crawl(second)
    assert _crawl(first)["events"] != _crawl(other)["events"]


def test_advancing_two_days_equals_one_day_twice(make_api: Callable[..., Api]) -> None:
    at_once, stepwise = make_api(), make_api()
    two = at_once.advance(2)
    one = [stepwise.advance(1), stepwise.advance(1)]
    assert {k: two[k] for k in SUMMARY_KEYS} == {k: one[0][k] + one[1][k] for k in SUMMARY_KEYS}
    assert _crawl(at_once) == _crawl(stepwise)


def test_advance_over_http(make_api: Callable[..., Api]) -> None:
    client = make_api()
    summary = client.advance(1)
    assert set(summary) == {"today"} | SUMMARY_KEYS
    assert summary["today"] == (SANDBOX_START + dt.timedelta(days=1)).isoformat()
    assert client.http.get("/_sandbox/clock").json()["today"] == summary["today"]


def test_advance_adds_orders_and_refunds_remove_attendees(make_api: Callable[..., Api]) -> None:
    client = make_api()
    exact_days = 0
    after = _crawl(client)
    for day in range(1, 5):
        before = after
        summary = client.advance(1)
        after = _crawl(client)
        assert summary["new_orders"] > 0
        assert len(after["events"]) == len(before["events"]) + summary["new_events"]
        old_orders = {o["uuid"]: o for e in before["events"] for o in before[e["uuid"]][4]}
        new_orders = {o["uuid"]: o for e in after["events"] for o in after[e["uuid"]][4]}
        assert set(old_orders) <= set(new_orders)
        assert len(new_orders) - len(old_orders) == summary["new_orders"]
        # What happened that day happened since the previous tick, at 06:00 UTC.
        since, now = (f"{SANDBOX_START + dt.timedelta(days=d)} 06:00:00" for d in (day - 1, day))
        assert all(since < new_orders[u]["created_on"] <= now for u in set(new_orders) - set(old_orders))
        changed = [(uuid, o["status"]) for uuid, o in new_orders.items()
                   if uuid in old_orders and old_orders[uuid]["status"] != o["status"]]
        old_attendees = Counter(a["order_uuid"] for e in before["events"] for a in before[e["uuid"]][3])
        new_attendees = Counter(a["order_uuid"] for e in after["events"] for a in after[e["uuid"]][3])
        for uuid, status in changed:
            order = new_orders[uuid]
            assert status in ("refunded", "partially_refunded")
            assert order["updated_on"] > old_orders[uuid]["updated_on"] and order["refunded_on"] is not None
            assert since < order["updated_on"] <= now
            if status == "refunded":
                assert new_attendees[uuid] == 0 < old_attendees[uuid]
            else:
                assert 0 < new_attendees[uuid] < old_attendees[uuid]
        # Orders of an event cancelled that day were refunded by the cancellation, maybe after a refund of their own.
        cancelled_events = {e["uuid"] for e in after["events"] if e["status"] == "cancelled"} - {
            e["uuid"] for e in before["events"] if e["status"] == "cancelled"}
        assert len(cancelled_events) == summary["cancelled_events"]
        in_cancelled = {o["uuid"] for e in cancelled_events for o in after[e][4]}
        assert all(new_orders[u]["status"] in ("refunded", "cancelled") for u in in_cancelled)
        # Orders placed that day may be refunded that day too.
        refunded_new = [(u, o["status"]) for u, o in new_orders.items()
                        if u not in old_orders and o["status"] in ("refunded", "partially_refunded")]
        outside = Counter(status for uuid, status in changed + refunded_new if uuid not in in_cancelled)
        assert outside["refunded"] <= summary["refunds"] and outside["partially_refunded"] <= summary["partial_refunds"]
        if not cancelled_events:
            assert outside == Counter({"refunded": summary["refunds"], "partially_refunded": summary["partial_refunds"]})
            assert summary["refunds"] > 0
            exact_days += 1
    assert exact_days


def test_advance_changes_events_and_moves_updated_on(make_api: Callable[..., Api]) -> None:
    client = make_api()
    before = {e["uuid"]: e for e in client.events()}
    orders_before = {u: len(client.pages(f"/events/{u}/orders", "orders")) for u in before}
    changed = sum(client.advance(1)["changed_events"] for _ in range(3))
    assert changed >= 3
    after = {e["uuid"]: e for e in client.events()}
    moved = {u for u in before
             if (after[u]["name"], after[u]["attending_on"]) != (before[u]["name"], before[u]["attending_on"])}
    cancelled = {u for u in before if after[u]["status"] == "cancelled"}
    updated = {u for u in before if after[u]["updated_on"] != before[u]["updated_on"]}
    assert moved and moved | cancelled <= updated
    assert len(updated - cancelled) <= changed  # a rename may repeat a tag: updated, not visibly changed
    assert all(after[u]["updated_on"] > "2026-03-02 06:00:00" for u in updated)
    for uuid in moved:
        if after[uuid]["name"] != before[uuid]["name"]:
            assert after[uuid]["name"].startswith(before[uuid]["name"].split(" (")[0] + " (")
        if after[uuid]["attending_on"] != before[uuid]["attending_on"]:
            old, new = (_utc(e["attending_on"][0]["utc"]) for e in (before[uuid], after[uuid]))
            assert (new - old) % dt.timedelta(hours=1) == dt.timedelta(0)
    # New orders alone do not move an event's updated_on.
    selling = {u for u in set(before) - updated if len(client.pages(f"/events/{u}/orders", "orders")) > orders_before[u]}
    assert selling


def test_check_ins_appear_once_an_event_starts(make_api: Callable[..., Api]) -> None:
    client = make_api()
    now = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
    upcoming = [e for e in client.events(status="published") if _utc(e["attending_on"][0]["utc"]) > now]
    first = min(upcoming, key=lambda e: e["attending_on"][0]["utc"])
    days = (_utc(first["attending_on"][0]["utc"]) - now).days + 1
    check_ins = sum(client.advance(1)["check_ins"] for _ in range(days))
    assert check_ins > 0
    upcoming_ids = {e["uuid"] for e in upcoming}
    started = [e for e in client.events() if e["status"] == "active" and e["uuid"] in upcoming_ids
               and _utc(e["attending_on"][0]["utc"]) <= now + dt.timedelta(days=days)]
    assert started
    for event in started:
        attendees = client.pages(f"/events/{event['uuid']}/attendees", "attendees")
        checked = [a for a in attendees if a["checked_in"] == "true"]
        assert attendees and 0.6 <= len(checked) / len(attendees) <= 0.9
        assert all(a["updated_on"][:16] == a["checked_in_on"]["utc"] for a in checked)


def test_cancel_endpoint(make_api: Callable[..., Api]) -> None:
    client = make_api()
    now = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
    event = next(e for e in client.events(status="published") if _utc(e["attending_on"][0]["utc"]) > now)
    uuid = event["uuid"]
    orders = client.pages(f"/events/{uuid}/orders", "orders")
    assert client.pages(f"/events/{uuid}/attendees", "attendees")
    response = client.post(f"/events/{uuid}/cancel")
    assert response.status_code == 200
    assert response.json() == {"statusCode": 200, "message": "Event cancelled"}
    cancelled = client.json(f"/events/{uuid}")["events"][0]
    assert cancelled["status"] == "cancelled" and _status(cancelled, "cancelled") == "true"
    assert cancelled["updated_on"] == "2026-03-02 06:00:00"
    assert client.pages(f"/events/{uuid}/attendees", "attendees") == []
    assert all(t["quantity_sold"] == "0" for t in client.pages(f"/events/{uuid}/tickets", "tickets"))
    after = {o["uuid"]: o for o in client.pages(f"/events/{uuid}/orders", "orders")}
    for order in orders:
        changed = after[order["uuid"]]
        if order["status"] in ("completed", "partially_refunded"):
            assert changed["status"] == "refunded" and changed["refunded_amount"] == changed["total"]
            assert changed["updated_on"] == "2026-03-02 06:00:00"
            assert changed["refunded_on"]["utc"] == "2026-03-02 06:00"
        else:
            assert changed == order
    assert client.post(f"/events/{uuid}/cancel").status_code == 400
    assert client.post("/events/00000000-0000-4000-8000-000000000000/cancel").status_code == 404
    others = [e for e in client.events() if e["uuid"] != uuid]
    assert all(e["status"] == "active" for e in others)


# ---- scales ------------------------------------------------------------------------------------


def test_medium_scale_builds_and_serves(make_api: Callable[..., Api]) -> None:
    client = make_api(scale="medium")
    first = client.json("/events", rows=100)
    assert first["pagination"]["records"] == "300" and len(first["events"]) == 100
    last = client.json("/events", rows=100, position=250)
    assert len(last["events"]) == 50
    busiest = max(first["events"], key=lambda e: len(client.json(f"/events/{e['uuid']}/attendees", rows=100,
                                                                 position=100)["attendees"]))
    path = f"/events/{busiest['uuid']}/attendees"
    records = int(client.json(path)["pagination"]["records"])
    assert records > 100
    assert len(client.pages(path, "attendees", rows=100)) == records


def test_unknown_scale_is_rejected() -> None:
    with pytest.raises(ValueError):
        EventBookingsSandbox(scale="huge")
    assert {"small", "medium", "large"} <= set(SCALES)
    assert SCALES["small"].events == 10 and SCALES["small"].orders_per_event == (15, 40)


# ---- waiting lists ---------------------------------------------------------------------------

WAITING_KEYS = {"uuid", "email", "first_name", "last_name", "quantity", "created_on", "status"}
SANDBOX_NOW = "2026-03-02 06:00:00"


def _waiting(client: Api, uuid: str, rows: int = 100, **params: Any) -> list[dict[str, Any]]:
    return client.pages(WAITING_LIST_PATH.format(uuid=uuid), "waiting_list", rows=rows, **params)


def _join(client: Api, uuid: str, body: Any = None, *, content: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token}"}
    path = API_PREFIX + JOIN_WAITING_LIST_PATH.format(uuid=uuid)
    if content is not None:
        return client.http.post(path, content=content, headers={**headers, "Content-Type": "application/json"})
    return client.http.post(path, json=body, headers=headers)


def _enabled(event: dict[str, Any]) -> bool:
    flag = event["settings"]["waiting_list"]
    assert flag["level"] == "event" and flag["enabled"] in ("true", "false")
    return flag["enabled"] == "true"


def _open_for_waiting(client: Api) -> list[dict[str, Any]]:
    """Published, active events with the waiting list enabled that have not started."""
    return [e for e in client.events(status="published") if _enabled(e) and e["status"] == "active"
            and _utc(e["attending_on"][0]["utc"]) > _utc(SANDBOX_NOW[:16])]


def test_waiting_list_shape_and_the_settings_flag(api: Api, everything: dict[str, Any]) -> None:
    enabled = with_entries = 0
    total = 0
    for event in everything["events"]:
        uuid = event["uuid"]
        entries = _waiting(api, uuid)
        total += len(entries)
        assert entries == api.app.waiting_list(uuid)
        assert all(t["settings"]["enable_waiting_list"] == "false" for t in everything["tickets"][uuid])
        if not _enabled(event):
            first = api.json(WAITING_LIST_PATH.format(uuid=uuid))
            assert first == {"waiting_list": [], "pagination": {"records": "0", "position": "0", "rows": "20",
                                                                 "order_by": ""}}
            continue
        enabled += 1
        with_entries += bool(entries)
        assert len(entries) <= 6
        if event["extended_status"][0]["value"] == "Draft":
            assert entries == []
        holders = {a["email"] for a in everything["attendees"][uuid]} | {
            o["buyer"]["email"] for o in everything["orders"][uuid]}
        zone = ZoneInfo(event["timezone"])
        start = event["attending_on"][0]["utc"]
        for entry in entries:
            assert set(entry) == WAITING_KEYS and entry["status"] == "waiting"
            assert entry["quantity"] in ("1", "2", "3", "4")
            assert entry["email"] not in holders and entry["first_name"] and entry["last_name"]
            created = entry["created_on"]
            assert set(created) == {"utc", "local"} and TIMESTAMP.fullmatch(created["utc"])
            moment = dt.datetime.strptime(created["utc"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
            assert moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") == created["local"]
            assert event["created_on"] <= created["utc"] <= min(SANDBOX_NOW, start + ":00")
        assert [e["created_on"]["utc"] for e in entries] == sorted(e["created_on"]["utc"] for e in entries)
        assert len({e["email"].strip().lower() for e in entries}) == len(entries)
    assert 0 < enabled < len(everything["events"]) and with_entries
    assert api.app.waiting_list_count() == total
    assert len({e["uuid"] for u in everything["attendees"] for e in api.app.waiting_list(u)}) == total


def test_waiting_list_unknown_event_auth_and_methods(api: Api) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    response = api.get(WAITING_LIST_PATH.format(uuid=unknown))
    assert response.status_code == 404 and response.json() == {"statusCode": 404, "message": "Event not found"}
    assert _join(api, unknown, {"email": "a@example.com"}).status_code == 404
    _assert_401(api.get(WAITING_LIST_PATH.format(uuid=unknown), token="nope"))
    assert api.http.post(API_PREFIX + WAITING_LIST_PATH.format(uuid="x")).status_code == 405
    assert api.http.get(API_PREFIX + JOIN_WAITING_LIST_PATH.format(uuid="x")).status_code == 405
    assert api.http.get(API_PREFIX + "/events/x/waiting_list/y").status_code == 404


def test_waiting_list_pages_and_orders_entries_added_by_post(make_api: Callable[..., Api]) -> None:
    client = make_api()
    event = _open_for_waiting(client)[0]
    uuid = event["uuid"]
    path = WAITING_LIST_PATH.format(uuid=uuid)
    before = _waiting(client, uuid)
    count = client.app.waiting_list_count()
    for n in range(25):
        body = {"email": f"waiter{n}@example.com", "first_name": f"Wai{n % 7}", "last_name": f"Ter{n % 5}",
                "quantity": (n % 4 + 1) if n % 2 else str(n % 4 + 1)}
        response = _join(client, uuid, body)
        assert response.status_code == 200, response.text
        (entry,) = response.json()["waiting_list"]
        assert set(response.json()) == {"waiting_list"} and set(entry) == WAITING_KEYS
        assert entry["email"] == body["email"] and entry["quantity"] == str(n % 4 + 1)
        assert entry["status"] == "waiting" and entry["created_on"]["utc"] == SANDBOX_NOW
    total = len(before) + 25
    assert client.app.waiting_list_count() == count + 25
    first = client.json(path)
    assert len(first["waiting_list"]) == 20
    assert first["pagination"] == {"records": str(total), "position": "0", "rows": "20", "order_by": ""}
    rest = client.json(path, position=20, rows=20)
    assert len(rest["waiting_list"]) == total - 20 and rest["pagination"]["position"] == "20"
    assert client.json(path, position=total)["waiting_list"] == []
    full = _waiting(client, uuid)
    assert _waiting(client, uuid, rows=20) == full == first["waiting_list"] + rest["waiting_list"]
    assert full == client.app.waiting_list(uuid) and full[:len(before)] == before
    assert len({e["uuid"] for e in full}) == total
    descending = _waiting(client, uuid, order_by="created_descending")
    assert [e["created_on"]["utc"] for e in descending] == sorted((e["created_on"]["utc"] for e in full), reverse=True)
    by_name = _waiting(client, uuid, order_by="name_ascending")
    names = [(e["last_name"].casefold(), e["first_name"].casefold()) for e in by_name]
    assert names == sorted(names) and sorted(e["uuid"] for e in by_name) == sorted(e["uuid"] for e in full)
    assert _waiting(client, uuid, order_by="starting") == full
    bad = client.get(path, rows=19)
    assert bad.status_code == 400 and bad.json() == {"statusCode": 400, "message": "rows must be between 20 and 100"}
    assert client.get(path, order_by="newest").status_code == 400
    assert _enabled(client.json(f"/events/{uuid}")["events"][0])


@pytest.mark.parametrize(("body", "message"), [
    (None, "The request body must be a JSON object"),
    ([{"email": "a@example.com"}], "The request body must be a JSON object"),
    ({}, "email is required"),
    ({"email": "  "}, "email is required"),
    ({"email": "not-an-address"}, "email address is invalid"),
    ({"email": 42}, "email address is invalid"),
    ({"email": "a@example.com", "first_name": "F" * 41}, "first_name can not exceed 40 characters"),
    ({"email": "a@example.com", "last_name": "L" * 41}, "last_name should be less than or equal to 40 characters"),
    ({"email": "a@example.com", "first_name": 5}, "first_name must be a string"),
    ({"email": "a@example.com", "quantity": 0}, "quantity must be an integer between 1 and 4"),
    ({"email": "a@example.com", "quantity": 5}, "quantity must be an integer between 1 and 4"),
    ({"email": "a@example.com", "quantity": "two"}, "quantity must be an integer between 1 and 4"),
    ({"email": "a@example.com", "quantity": "-1"}, "quantity must be an integer between 1 and 4"),
    ({"email": "a@example.com", "quantity": 1.5}, "quantity must be an integer between 1 and 4"),
    ({"email": "a@example.com", "quantity": True}, "quantity must be an integer between 1 and 4"),
])
def test_join_waiting_list_validation(api: Api, body: Any, message: str) -> None:
    now = _utc(SANDBOX_NOW[:16])
    event = next(e for e in api.events(status="published") if _enabled(e) and _utc(e["attending_on"][0]["utc"]) > now)
    count = api.app.waiting_list_count()
    response = _join(api, event["uuid"], content=b"{not json" if body is None else None, body=body)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "message": message}
    assert api.app.waiting_list_count() == count


def test_join_waiting_list_defaults_and_trimmed_values(make_api: Callable[..., Api]) -> None:
    client = make_api()
    uuid = _open_for_waiting(client)[0]["uuid"]
    response = _join(client, uuid, {"email": "  Only.Email@Example.com ", "first_name": None})
    assert response.status_code == 200
    (entry,) = response.json()["waiting_list"]
    assert (entry["email"], entry["first_name"], entry["last_name"], entry["quantity"]) == (
        "Only.Email@Example.com", "", "", "1")
    assert entry in _waiting(client, uuid)


def test_join_waiting_list_refusals(make_api: Callable[..., Api]) -> None:
    client = make_api()
    now = _utc(SANDBOX_NOW[:16])
    events = client.events()
    body = {"email": "someone@example.com", "first_name": "Some", "last_name": "One", "quantity": 2}
    # Not enabled: refused, and the list stays empty.
    disabled = next(e for e in events if not _enabled(e) and _utc(e["attending_on"][0]["utc"]) > now)
    response = _join(client, disabled["uuid"], body)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "message": "Waiting list is not enabled for this event"}
    assert _waiting(client, disabled["uuid"]) == []
    # The same e-mail twice on one event, whatever its case and spaces; another event takes it.
    first, second = _open_for_waiting(client)[:2]
    assert _join(client, first["uuid"], body).status_code == 200
    again = _join(client, first["uuid"], {**body, "email": " SOMEONE@example.com "})
    assert again.status_code == 400
    assert again.json() == {"statusCode": 400, "message": "email address is already on the waiting list"}
    assert sum(e["email"] == body["email"] for e in _waiting(client, first["uuid"])) == 1
    assert _join(client, second["uuid"], body).status_code == 200
    # Someone already listed by the sandbox counts too.
    listed = next(e for e in events if _waiting(client, e["uuid"]) and _utc(e["attending_on"][0]["utc"]) > now)
    taken = _waiting(client, listed["uuid"])[0]["email"]
    assert _join(client, listed["uuid"], {"email": taken}).status_code == 400
    # Started and cancelled events take no one.
    started = next(e for e in events if _enabled(e) and _utc(e["attending_on"][0]["utc"]) <= now)
    closed = _join(client, started["uuid"], body)
    assert closed.status_code == 400 and closed.json()["message"] == "Booking has closed for this event"
    assert client.post(f"/events/{second['uuid']}/cancel").status_code == 200
    kept = _waiting(client, second["uuid"])
    cancelled = _join(client, second["uuid"], {**body, "email": "late@example.com"})
    assert cancelled.status_code == 400 and cancelled.json()["message"] == "Event is cancelled"
    assert _waiting(client, second["uuid"]) == kept and kept


def test_join_waiting_list_of_a_draft_is_refused(make_api: Callable[..., Api]) -> None:
    client = make_api(seed=2)
    draft = next(e for e in client.events(status="draft") if _enabled(e))
    assert _waiting(client, draft["uuid"]) == []
    response = _join(client, draft["uuid"], {"email": "early@example.com"})
    assert response.status_code == 400 and response.json()["message"] == "Event is not published"


def _all_waiting(client: Api) -> dict[str, list[dict[str, Any]]]:
    return {e["uuid"]: _waiting(client, e["uuid"]) for e in client.events()}


def test_advance_adds_and_removes_waiting_list_entries(make_api: Callable[..., Api]) -> None:
    client = make_api()
    joined = left = 0
    after = _all_waiting(client)
    for day in range(1, 4):
        before, events = after, {e["uuid"]: e for e in client.events()}
        summary = client.advance(1)
        assert set(summary) == {"today"} | SUMMARY_KEYS
        after = _all_waiting(client)
        day_joined, day_left = summary["joined_waiting_list"], summary["left_waiting_list"]
        joined, left = joined + day_joined, left + day_left
        since, now = (f"{SANDBOX_START + dt.timedelta(days=d)} 06:00:00" for d in (day - 1, day))
        added = removed = 0
        for uuid, entries in after.items():
            old = {e["uuid"]: e for e in before.get(uuid, [])}
            new = {e["uuid"]: e for e in entries}
            assert all(new[u] == old[u] for u in set(new) & set(old))  # entries that stay never change
            fresh = [new[u] for u in set(new) - set(old)]
            added += len(fresh)
            removed += len(set(old) - set(new))
            assert all(since < e["created_on"]["utc"] <= now for e in fresh)
            assert len(fresh) <= 3
            if fresh or set(old) - set(new):
                event = events.get(uuid) or client.json(f"/events/{uuid}")["events"][0]
                assert _enabled(event) and _utc(event["attending_on"][0]["utc"]) > _utc(since[:16])
        assert (added, removed) == (day_joined, day_left)
        assert client.app.waiting_list_count() == sum(map(len, after.values()))
    assert joined > 0 and left > 0


def test_waiting_lists_advance_two_days_as_one_day_twice(make_api: Callable[..., Api]) -> None:
    at_once, stepwise, again = make_api(), make_api(), make_api()
    assert _all_waiting(at_once) == _all_waiting(stepwise) == _all_waiting(again)
    two = at_once.advance(2)
    one = [stepwise.advance(1), stepwise.advance(1)]
    for key in ("joined_waiting_list", "left_waiting_list"):
        assert two[key] == one[0][key] + one[1][key]
    assert two["joined_waiting_list"] > 0
    assert _all_waiting(at_once) == _all_waiting(stepwise)
    other = make_api(seed=SEED + 1)
    assert _all_waiting(other) != _all_waiting(again)

"""Fault injection in the vendor sandboxes, as a plain HTTP client sees it."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lxml import etree

from sandboxes import faults
from sandboxes.brp import DEMO_API_KEY as BRP_KEY
from sandboxes.brp import BrpSandbox
from sandboxes.eventbookings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EventBookingsSandbox
from sandboxes.faults import BAD_DATA_KINDS, DRIFT_KINDS, TRANSIENT_KINDS, FaultPlan
from sandboxes.icareus import IcareusSandbox, signature
from sandboxes.opus import DEMO_API_KEY as OPUS_KEY
from sandboxes.opus import OpusSandbox
from sandboxes.server import SandboxApp, SandboxServer
from tests.conftest import SANDBOX_START

SEED = 7
LOOPBACK = "127.0.0.1"
OPUS_EVENTS = "/rest/api/v1/events"
EB_TOKEN = "/connect/token"
EB_CREDENTIALS = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "grant_type": "client_credentials"}
ICAREUS_EVENT = "/api/event"
STATUS_KINDS = {"http_500": 500, "http_502": 502, "http_503": 503}
THROTTLE_KINDS = ("throttle_seconds", "throttle_date", "throttle_zero")
SHORT_TIMEOUT = 0.3
SLOW_SECONDS = 2.0

Record = dict[str, Any]


# ---- one adapter per vendor: how to ask for events and read them back -------------------------


@dataclass
class Vendor:
    name: str
    make: Callable[[], SandboxApp]
    request: Callable[[httpx.Client, SandboxServer], httpx.Request]  # its event response
    records: Callable[[httpx.Response], list[Record]]
    xml: bool = False

    def events(self, client: httpx.Client, server: SandboxServer) -> httpx.Response:
        return client.send(self.request(client, server))


def _opus_request(client: httpx.Client, server: SandboxServer) -> httpx.Request:
    return client.build_request("GET", OPUS_EVENTS, params={"api_key": OPUS_KEY, "limit": 5})


def _eb_token(client: httpx.Client) -> str:
    response = client.post(EB_TOKEN, data=EB_CREDENTIALS)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _eb_request(client: httpx.Client, server: SandboxServer) -> httpx.Request:
    # The client keeps its first token, so requests after faults are switched on need none.
    if "authorization" not in client.headers:
        client.headers.update(_bearer(_eb_token(client)))
    return client.build_request("GET", "/api/events", params={"rows": 20})


def _brp_request(client: httpx.Client, server: SandboxServer) -> httpx.Request:
    params = {"apikey": BRP_KEY, "includeparticipants": "true", "bookablefrominternet": "false"}
    return client.build_request("GET", "/events.xml", params=params)


def _icareus_token(app: IcareusSandbox) -> str:
    hex_time = f"{int(time.time()):08x}"
    return hex_time + signature(app.organization_id, hex_time, app.secret, LOOPBACK)


def _icareus_request(client: httpx.Client, server: SandboxServer) -> httpx.Request:
    app: IcareusSandbox = server.app  # type: ignore[assignment]
    params = {"organizationId": app.organization_id, "eventId": app.event_ids()[0]}
    return client.build_request("GET", ICAREUS_EVENT, params=params, headers=_bearer(_icareus_token(app)))


def _xml_records(response: httpx.Response) -> list[Record]:
    """Each <event> as {tag: text}, an element with children as {child tag: text}."""
    root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    return [
        {child.tag: ({sub.tag: sub.text for sub in child} if len(child) else child.text) for child in event}
        for event in root.iter("event")
    ]


VENDORS = {
    "opus": Vendor("opus", lambda: OpusSandbox(seed=SEED, start_date=SANDBOX_START), _opus_request,
                   lambda response: response.json()[0]["events"]),
    "eventbookings": Vendor("eventbookings", lambda: EventBookingsSandbox(seed=SEED, start_date=SANDBOX_START),
                            _eb_request, lambda response: response.json()["events"]),
    "brp": Vendor("brp", lambda: BrpSandbox(seed=SEED, start_date=SANDBOX_START), _brp_request, _xml_records,
                  xml=True),
    "icareus": Vendor("icareus", lambda: IcareusSandbox(seed=SEED, start_date=SANDBOX_START), _icareus_request,
                      lambda response: [response.json()["event"]]),
}


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[SandboxServer, httpx.Client]]]:
    """Serves a vendor's sandbox with a plan for one test; every server and client is closed at the end."""
    with ExitStack() as stack:

        def start(vendor: str, plan: FaultPlan | None = None,
                  timeout: float = 10.0) -> tuple[SandboxServer, httpx.Client]:
            server = stack.enter_context(SandboxServer(VENDORS[vendor].make(), faults=plan))
            client = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=timeout))
            return server, client

        yield start


def _only(kind: str, rate: float = 1.0, **extra: Any) -> FaultPlan:
    return FaultPlan(rate=rate, kinds=(kind,), seed=1, **extra)


def _parses(vendor: Vendor, data: bytes) -> bool:
    try:
        if vendor.xml:
            etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        else:
            json.loads(data)
    except (ValueError, etree.XMLSyntaxError):
        return False
    return True


def _served(app: SandboxApp) -> int | None:
    """Requests that reached the app, where it counts them."""
    return getattr(app, "requests_served", None)


# ---- transient faults --------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("kind", sorted(STATUS_KINDS))
def test_status_faults_answer_an_error_without_asking_the_app(serve, vendor: str, kind: str) -> None:
    server, client = serve(vendor)
    VENDORS[vendor].events(client, server)  # a token fetched before faults are on
    before = _served(server.app)
    server.set_faults(_only(kind))
    response = VENDORS[vendor].events(client, server)
    assert response.status_code == STATUS_KINDS[kind]
    assert _parses(VENDORS[vendor], response.content)
    assert response.headers["content-type"].startswith("application/xml" if vendor == "brp" else "application/json")
    assert _served(server.app) == before
    assert server.faults.injected == {kind: 1}


@pytest.mark.parametrize("kind", THROTTLE_KINDS)
def test_throttles_answer_429_with_each_form_of_retry_after(serve, kind: str) -> None:
    server, client = serve("opus", _only(kind))
    response = VENDORS["opus"].events(client, server)
    assert response.status_code == 429
    retry_after = response.headers["retry-after"]
    if kind == "throttle_seconds":
        assert retry_after == "1"
    elif kind == "throttle_zero":
        assert retry_after == "0"
    else:
        assert retry_after.endswith(" GMT")
        ahead = (email.utils.parsedate_to_datetime(retry_after) - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0 < ahead <= 2.5
    assert response.json()["error"]


def test_the_token_endpoint_is_faulted_like_any_request(serve) -> None:
    server, client = serve("eventbookings", _only("http_503"))
    assert client.post(EB_TOKEN, data=EB_CREDENTIALS).status_code == 503


@pytest.mark.parametrize("vendor", VENDORS)
def test_reset_breaks_the_connection_mid_body(serve, vendor: str) -> None:
    server, client = serve(vendor)
    adapter = VENDORS[vendor]
    whole = adapter.events(client, server).content
    server.set_faults(_only("reset"))
    received = b""
    response = client.send(adapter.request(client, server), stream=True)
    try:
        assert response.status_code == 200
        if vendor == "brp":
            assert response.headers["transfer-encoding"] == "chunked"
        else:
            assert int(response.headers["content-length"]) == len(whole)
        with pytest.raises(httpx.TransportError):
            for chunk in response.iter_raw():
                received += chunk
    finally:
        response.close()
    assert 0 < len(received) < len(whole)
    assert server.faults.injected == {"reset": 1}


@pytest.mark.parametrize("vendor", VENDORS)
def test_truncated_sends_half_a_document_with_a_matching_length(serve, vendor: str) -> None:
    server, client = serve(vendor)
    whole = VENDORS[vendor].events(client, server).content
    server.set_faults(_only("truncated"))
    response = VENDORS[vendor].events(client, server)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert "transfer-encoding" not in response.headers
    assert whole.startswith(response.content) and 0 < len(response.content) < len(whole)
    assert not _parses(VENDORS[vendor], response.content)


def test_slow_outlasts_a_short_client_timeout_and_never_holds_up_stop(serve) -> None:
    server, client = serve("opus", _only("slow", slow_seconds=SLOW_SECONDS), timeout=SHORT_TIMEOUT)
    with pytest.raises(httpx.ReadTimeout):
        VENDORS["opus"].events(client, server)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < SLOW_SECONDS / 2
    assert server.faults.injected == {"slow": 1}


def test_slow_answers_normally_once_the_wait_is_over(serve) -> None:
    server, client = serve("opus")
    expected = VENDORS["opus"].events(client, server).content
    server.set_faults(_only("slow", slow_seconds=0.2))
    started = time.monotonic()
    response = VENDORS["opus"].events(client, server)
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200 and response.content == expected


# ---- expired tokens ----------------------------------------------------------------------------


def test_an_expired_eventbookings_token_answers_its_401_until_a_new_one_is_fetched(serve) -> None:
    server, client = serve("eventbookings", _only("expired_token"))
    token = _eb_token(client)  # the token endpoint carries no token: never an expired_token fault
    response = _eb_events(client, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The token expired"')
    assert response.json() == {"statusCode": 401, "message": "Unauthorized"}
    server.set_faults(None)
    assert _eb_events(client, token).status_code == 401  # the token stays expired
    retried = _eb_events(client, _eb_token(client))
    assert retried.status_code == 200 and retried.json()["events"]
    assert server.faults.injected == {"expired_token": 1}


def _eb_events(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/api/events", params={"rows": 20}, headers=_bearer(token))


def test_an_icareus_token_answers_stale_and_a_newly_signed_one_succeeds(serve) -> None:
    server, client = serve("icareus", _only("expired_token"))
    response = VENDORS["icareus"].events(client, server)
    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "Token expired"}
    server.set_faults(None)
    retried = VENDORS["icareus"].events(client, server)
    assert retried.status_code == 200 and retried.json()["status"] == "ok"


@pytest.mark.parametrize("vendor", ["opus", "brp"])
def test_static_keys_never_expire(serve, vendor: str) -> None:
    server, client = serve(vendor, FaultPlan(rate=1.0, kinds=("expired_token",)))
    assert VENDORS[vendor].events(client, server).status_code == 200
    server.set_faults(FaultPlan(rate=1.0, kinds=("expired_token", "http_502")))
    assert VENDORS[vendor].events(client, server).status_code == 502
    assert server.faults.injected == {"http_502": 1}


# ---- rates, seeds and the no-fault path --------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_rate_zero_answers_the_same_bytes_as_no_plan(serve, vendor: str) -> None:
    server, client = serve(vendor)
    plain = VENDORS[vendor].events(client, server)
    server.set_faults(FaultPlan(rate=0.0, kinds=TRANSIENT_KINDS, slow_seconds=SLOW_SECONDS))
    started = time.monotonic()
    faulted = VENDORS[vendor].events(client, server)
    assert time.monotonic() - started < SLOW_SECONDS
    assert faulted.content == plain.content
    assert _headers(faulted) == _headers(plain)
    assert server.faults.injected == {}


def _headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower() != "date"}


def _statuses(client: httpx.Client, count: int) -> list[int]:
    # Any request to the vendor's API counts; the app's quickest answer is its 404.
    return [client.get("/rest/api/v1/nowhere").status_code for _ in range(count)]


def test_a_seeded_rate_faults_about_that_share_reproducibly(serve) -> None:
    plan = FaultPlan(rate=0.1, kinds=(*STATUS_KINDS, *THROTTLE_KINDS), seed=3)
    server, client = serve("opus", plan)
    first = _statuses(client, 400)
    faulted = sum(status != 404 for status in first)
    assert 24 <= faulted <= 56
    assert server.faults.requests == 400
    assert sum(server.faults.injected.values()) == faulted
    assert set(server.faults.injected) <= set(plan.kinds) and len(server.faults.injected) > 1
    server.set_faults(plan)  # the draws start again from the seed
    assert _statuses(client, 400) == first
    other, other_client = serve("opus", plan)
    assert _statuses(other_client, 400) == first


# ---- drift and bad data ------------------------------------------------------------------------


def _baseline_and_faulted(serve, vendor: str, kind: str) -> tuple[list[Record], list[Record], SandboxServer]:
    server, client = serve(vendor)
    adapter = VENDORS[vendor]
    before = adapter.records(adapter.events(client, server))
    server.set_faults(FaultPlan(kinds=(kind,)))
    after = adapter.records(adapter.events(client, server))
    assert before and len(after) == len(before)
    assert server.faults.injected[kind] == 1
    return before, after, server


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("kind", DRIFT_KINDS)
def test_drift_changes_every_event_record(serve, vendor: str, kind: str) -> None:
    before, after, server = _baseline_and_faulted(serve, vendor, kind)
    target = server.app.fault_target
    assert target is not None
    untouched = {target.key, target.date}
    for old, new in zip(before, after, strict=True):
        assert {name: new[name] for name in untouched} == {name: old[name] for name in untouched}
        if kind == "drift_new_field":
            assert target.new_field not in old and new[target.new_field] == faults.NEW_FIELD_VALUE
        elif kind == "drift_type_change":
            assert not isinstance(old[target.retyped_field], dict)
            assert new[target.retyped_field] == {faults.RETYPED_CHILD: old[target.retyped_field]}
        else:
            assert target.gone_field not in new
            assert {name: value for name, value in old.items() if name != target.gone_field} == new
    if kind == "drift_field_gone":
        assert any(target.gone_field in old for old in before)


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("kind", ["missing_key", "null_key", "bad_date"])
def test_bad_data_spoils_the_first_event_record(serve, vendor: str, kind: str) -> None:
    before, after, server = _baseline_and_faulted(serve, vendor, kind)
    target = server.app.fault_target
    assert target is not None
    first = after[0]
    if kind == "missing_key":
        assert target.key not in first
    elif kind == "null_key":
        assert target.key in first and first[target.key] is None
    else:
        assert first[target.date] == faults.BAD_DATE_VALUE
        with pytest.raises(ValueError):
            dt.datetime.fromisoformat(first[target.date])
    assert after[1:] == before[1:]
    assert {k: v for k, v in first.items() if k not in (target.key, target.date)} == {
        k: v for k, v in before[0].items() if k not in (target.key, target.date)}


@pytest.mark.parametrize("vendor", VENDORS)
def test_bad_page_is_not_a_document_at_all(serve, vendor: str) -> None:
    server, client = serve(vendor)
    adapter = VENDORS[vendor]
    usual = adapter.events(client, server).headers["content-type"]
    server.set_faults(FaultPlan(kinds=("bad_page",)))
    response = adapter.events(client, server)
    assert response.status_code == 200
    assert response.headers["content-type"] == usual
    assert response.content == faults.BAD_PAGE_BODY
    assert not _parses(adapter, response.content)
    assert server.faults.injected == {"bad_page": 1}


def test_drift_and_bad_data_reach_eventbookings_event_details_too(serve) -> None:
    server, client = serve("eventbookings", FaultPlan(kinds=("drift_new_field", "null_key")))
    token = _eb_token(client)
    uuid = _eb_events(client, token).json()["events"][1]["uuid"]
    event = client.get(f"/api/events/{uuid}", headers=_bearer(token)).json()["events"][0]
    assert event["uuid"] is None and event["promo_code"] == faults.NEW_FIELD_VALUE


def test_persistent_faults_leave_other_endpoints_and_errors_alone(serve) -> None:
    server, client = serve("opus")
    params = {"api_key": OPUS_KEY, "event_id": "1001"}
    registrants = client.get(f"{OPUS_EVENTS}/registrants", params=params).content
    server.set_faults(FaultPlan(kinds=(*DRIFT_KINDS, *BAD_DATA_KINDS)))
    assert client.get(f"{OPUS_EVENTS}/registrants", params=params).content == registrants
    refused = client.get(OPUS_EVENTS, params={"api_key": "wrong"})
    assert refused.status_code == 401 and refused.json() == {"error": "Invalid or missing api_key"}
    assert server.faults.injected == {}


# ---- settings and the control route ------------------------------------------------------------


def test_plans_from_the_environment() -> None:
    assert FaultPlan.from_env({}) is None
    assert FaultPlan.from_env({"TURNOUT_SANDBOX_FAULT_RATE": "", "TURNOUT_SANDBOX_FAULTS": ""}) is None
    assert FaultPlan.from_env({"TURNOUT_SANDBOX_FAULT_RATE": "0.1"}) == FaultPlan(
        rate=0.1, kinds=TRANSIENT_KINDS, seed=0, slow_seconds=5.0)
    assert FaultPlan.from_env({
        "TURNOUT_SANDBOX_FAULT_RATE": "0.25", "TURNOUT_SANDBOX_FAULTS": "http_503, drift",
        "TURNOUT_SANDBOX_FAULT_SEED": "3", "TURNOUT_SANDBOX_SLOW_SECONDS": "2",
    }) == FaultPlan(rate=0.25, kinds=("http_503", *DRIFT_KINDS), seed=3, slow_seconds=2.0)
    assert FaultPlan.from_env({"TURNOUT_SANDBOX_FAULTS": "bad_data"}) == FaultPlan(rate=0.0, kinds=BAD_DATA_KINDS)


@pytest.mark.parametrize("setting, value", [
    ("TURNOUT_SANDBOX_FAULT_RATE", "lots"),
    ("TURNOUT_SANDBOX_FAULT_RATE", "1.5"),
    ("TURNOUT_SANDBOX_FAULTS", "gremlins"),
    ("TURNOUT_SANDBOX_FAULT_SEED", "x"),
    ("TURNOUT_SANDBOX_SLOW_SECONDS", "-1"),
])
def test_a_bad_setting_is_named(setting: str, value: str) -> None:
    with pytest.raises(ValueError, match=setting):
        FaultPlan.from_env({"TURNOUT_SANDBOX_FAULT_RATE": "0.1", setting: value})


def test_kinds_parse_from_groups_and_names() -> None:
    assert FaultPlan.parse_kinds("transient,drift_new_field") == (*TRANSIENT_KINDS, "drift_new_field")
    assert FaultPlan.parse_kinds(" bad_data , null_key ,") == BAD_DATA_KINDS
    with pytest.raises(ValueError, match="valid groups: transient, drift, bad_data.*http_500"):
        FaultPlan.parse_kinds("http_418")


def test_the_control_route_switches_and_reports_faults(serve) -> None:
    server, client = serve("opus")
    response = client.post("/_sandbox/faults", params={"rate": 0.1, "kinds": "transient", "seed": 3,
                                                       "slow_seconds": 2})
    assert response.status_code == 200
    assert response.json() == {"rate": 0.1, "kinds": list(TRANSIENT_KINDS), "seed": 3, "slow_seconds": 2.0}
    assert server.faults.plan == FaultPlan(rate=0.1, kinds=TRANSIENT_KINDS, seed=3, slow_seconds=2.0)
    client.post("/_sandbox/faults", params={"rate": 1, "kinds": "http_502"})
    VENDORS["opus"].events(client, server)
    assert client.get("/_sandbox/faults").json() == {
        "plan": {"rate": 1.0, "kinds": ["http_502"], "seed": 0, "slow_seconds": 5.0},
        "requests": 1,
        "injected": {"http_502": 1},
    }
    for off in ({"rate": 0}, {"rate": 1, "kinds": ""}):
        response = client.post("/_sandbox/faults", params=off)
        assert response.status_code == 200 and response.json() is None
        assert server.faults.plan is None
    assert VENDORS["opus"].events(client, server).status_code == 200


@pytest.mark.parametrize("params, named", [({"rate": "2"}, "rate"), ({"rate": "0.1", "kinds": "nope"}, "valid")])
def test_the_control_route_refuses_a_bad_plan(serve, params: dict[str, str], named: str) -> None:
    server, client = serve("opus")
    response = client.post("/_sandbox/faults", params=params)
    assert response.status_code == 400 and named in response.json()["error"]
    assert server.faults.plan is None


def test_control_routes_are_never_faulted(serve) -> None:
    server, client = serve("brp", FaultPlan(rate=1.0, kinds=("transient", *DRIFT_KINDS, *BAD_DATA_KINDS)))
    for _ in range(10):
        assert client.get("/_sandbox/clock").status_code == 200
        assert client.get("/_sandbox/faults").status_code == 200
    assert client.post("/_sandbox/advance", params={"days": 1}).status_code == 200
    assert server.faults.requests == 0 and server.faults.injected == {}


def test_the_sandbox_command_reads_the_fault_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from assets.cli import _start_sandboxes

    monkeypatch.setenv("TURNOUT_SANDBOX_FAULT_RATE", "0.2")
    monkeypatch.setenv("TURNOUT_SANDBOX_FAULTS", "http_503")
    with ExitStack() as stack:
        servers = _start_sandboxes(stack, seed=1, scale="small", port=0)
        assert {server.faults.plan for server in servers} == {FaultPlan(rate=0.2, kinds=("http_503",))}

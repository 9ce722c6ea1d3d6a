"""The Icareus Suite sandbox over real HTTP: signed tokens, organisations, events and rooms, clock."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandboxes.icareus import (
    DEFAULT_TOKEN_TOLERANCE,
    DEMO_ORGANIZATION_ID,
    DEMO_SECRET,
    OTHER_ORGANIZATION_ID,
    OTHER_SECRET,
    SCALES,
    IcareusSandbox,
    signature,
)
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.sandbox_client import SandboxClient, serving

SEED = 7
LOOPBACK = "127.0.0.1"
EVENT = "/api/event"
ROOM = "/api/event/room"
LANGUAGES = {"en_US", "fi_FI", "es_ES", "sv_SE"}
# Keys of the event and room objects, in the document's order (optional ones included).
EVENT_ORDER = [
    "restrictions", "isMultiroom", "mainEventRoomId", "embedUrl", "startTimePublic", "defaultLanguage",
    "durationPublic", "publishingInfo", "startTime", "eventTheme", "duration", "eventLanguages", "eventId",
    "serviceId", "publicName", "description", "name", "accessControls", "gdpr", "categories", "externalId",
    "eventThumbnail", "rooms",
]
EVENT_OPTIONAL = {"startTimePublic", "durationPublic", "gdpr", "externalId", "eventThumbnail"}
ROOM_ORDER = [
    "eventTheme", "startTime", "duration", "recordings", "serviceId", "eventId", "startTimePublic",
    "durationPublic", "description", "publicName", "name", "embedUrl", "roomId", "publishingInfo",
]
ROOM_OPTIONAL = {"startTimePublic", "durationPublic"}
SUMMARY_KEYS = {"modified_events", "added_rooms", "deleted_rooms", "modified_rooms"}
MAIN_ROOM_TEXTS = {
    "name": {"en_US": "Main Room"},
    "description": {"en_US": "This is the main room"},
    "publicName": {"en_US": "Main room"},
}
# The document's example bodies.
DOC_EVENT = {
    "name": {"en_US": "English name", "fi_FI": "Finnish name"},
    "description": {"en_US": "English description", "fi_FI": "Finnish description"},
    "publicName": {"en_US": "English public name", "fi_FI": "Finnish public name"},
    "startTime": 1637913600000,
    "duration": 12600,
    "startTimePublic": 1637914500000,
    "durationPublic": 11700,
    "eventTheme": 3319901,
    "eventLanguages": ["en_US", "fi_FI"],
    "gdpr": {
        "termsOfService": {"en_US": "English terms of service text.", "fi_FI": "Finnish terms of service text."},
        "privacyPolicy": {"en_US": "English privacy policy text.", "fi_FI": "Finnish privacy policy text."},
        "copyright": {"en_US": "English copyright text.", "fi_FI": "Finnish copyright text."},
    },
}
DOC_EDIT = {
    "name": {"sv_SE": "Swedish name"},
    "description": {"sv_SE": "Swedish description"},
    "publicName": {"sv_SE": "Swedish public name"},
    "eventLanguages": ["en_US", "fi_FI", "sv_SE"],
}
DOC_ROOM = {
    "name": {"en_US": "English room name", "fi_FI": "Finnish room name"},
    "description": {"en_US": "English room description", "fi_FI": "Finnish room description"},
    "publicName": {"en_US": "English room public name", "fi_FI": "Finnish room public name"},
    "startTime": 1637913600000,
    "duration": 12600,
    "startTimePublic": 1637914500000,
    "durationPublic": 11700,
    "eventTheme": 3319901,
    "serviceId": 2977205,
}
SIGN = object()  # sign a fresh token for the request's organisation


# ---- the client --------------------------------------------------------------------------


def sign(organization_id: int, secret: str, client_ip: str, at: float) -> str:
    """A token as the document describes it: hex time, then MD5 of org:hexTime:secret:ip."""
    hex_time = f"{int(at):08x}"
    digest = hashlib.md5(f"{organization_id}:{hex_time}:{secret}:{client_ip}".encode()).hexdigest()
    return hex_time + digest


class Api(SandboxClient):
    """An httpx client that signs a fresh token for every request."""

    def __init__(
        self,
        server: SandboxServer,
        organization_id: int = DEMO_ORGANIZATION_ID,
        secret: str = DEMO_SECRET,
        client_ip: str = LOOPBACK,
    ) -> None:
        super().__init__(server)
        self.app: IcareusSandbox = server.app  # type: ignore[assignment]
        self.organization_id = organization_id
        self.secret = secret
        self.client_ip = client_ip

    def token(self, *, organization_id: int | None = None, secret: str | None = None,
              client_ip: str | None = None, offset: float = 0.0) -> str:
        return sign(organization_id or self.organization_id, secret or self.secret,
                    client_ip or self.client_ip, time.time() + offset)

    def call(self, method: str, path: str, token: Any = SIGN, organization_id: Any = None,
             **fields: Any) -> httpx.Response:
        """GET/DELETE carry ``organizationId`` and the fields in the query, POST/PUT in a JSON body."""
        organization = self.organization_id if organization_id is None else organization_id
        if token is SIGN:
            token = self.token(organization_id=organization if isinstance(organization, int) else None)
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        if method in ("GET", "DELETE"):
            params = {"organizationId": organization, **fields} if organization != "" else fields
            return self.http.request(method, path, params=params, headers=headers)
        body = {"organizationId": organization, **fields} if organization != "" else fields
        return self.http.request(method, path, json=body, headers=headers)

    def get_event(self, event_id: Any, **kwargs: Any) -> httpx.Response:
        return self.call("GET", EVENT, eventId=event_id, **kwargs)

    def ok(self, method: str, path: str, **fields: Any) -> dict[str, Any]:
        return ok(self.call(method, path, **fields))

    def event(self, event_id: int) -> dict[str, Any]:
        return self.ok("GET", EVENT, eventId=event_id)["event"]


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok", body
    return body


def error(response: httpx.Response, status: int = 200) -> str:
    """The message of a status error answered with this HTTP status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "message"} and body["status"] == "error", body
    return body["message"]


def _app(**kwargs: Any) -> IcareusSandbox:
    return IcareusSandbox(**{"seed": SEED, "scale": "small", "start_date": SANDBOX_START, **kwargs})


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A sandbox shared by the tests that change nothing."""
    with SandboxServer(_app()) as server:
        client = Api(server)
        yield client
        client.close()


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    def make(client: dict[str, Any] | None = None, **kwargs: Any) -> Api:
        return serve(_app(**kwargs), lambda server: Api(server, **(client or {})))

    with serving() as serve:
        yield make


def _now_ms(app: IcareusSandbox) -> int:
    return int(app.now.timestamp()) * 1000


def _new_event(api: Api, **changes: Any) -> dict[str, Any]:
    """An event created from the document's example, starting ten days after the clock."""
    start = _now_ms(api.app) + 10 * 86_400_000
    event = {**copy.deepcopy(DOC_EVENT), "startTime": start, "startTimePublic": start + 900_000, **changes}
    return api.ok("POST", EVENT, event=event)["event"]


# ---- tokens ------------------------------------------------------------------------------


def test_the_documents_token_example() -> None:
    token = sign(13509, "secret", "185.185.165.160", 1622091600)
    assert token == "60af27507c39fec85881c1d8ebb0064b83f5edd8"
    assert token[:8] == "60af2750" and len(token) == 40
    assert signature(13509, "60af2750", "secret", "185.185.165.160") == "7c39fec85881c1d8ebb0064b83f5edd8"


def test_a_signed_token_is_accepted_and_recorded(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event_id = api.app.event_ids()[0]
    before = len(api.app.tokens_accepted)
    token = api.token()
    response = api.get_event(event_id, token=token)
    assert ok(response)["event"]["eventId"] == event_id
    assert api.app.tokens_accepted[before:] == [token[:8]]
    assert abs(int(token[:8], 16) - time.time()) < 5
    # Read without case, and reusable within the tolerance.
    assert ok(api.get_event(event_id, token=token.upper()))
    assert api.app.tokens_accepted[before:] == [token[:8]] * 2


@pytest.mark.parametrize(("authorization", "message"), [
    (None, "Authorization token missing"),
    ("", "Authorization token missing"),
    ("Bearer", "Authorization token missing"),
    ("bearer", "Authorization token missing"),
    ("Basic 60af27507c39fec85881c1d8ebb0064b83f5edd8", "Authorization token missing"),
    ("Token 60af27507c39fec85881c1d8ebb0064b83f5edd8", "Authorization token missing"),
    ("Bearer 60af27507c39fec85881c1d8ebb0064b83f5edd", "Malformed token"),
    ("Bearer 60af27507c39fec85881c1d8ebb0064b83f5edd8a", "Malformed token"),
    ("Bearer 60af2750-7c39fec85881c1d8ebb0064b83f5edd", "Malformed token"),
    ("Bearer zzaf27507c39fec85881c1d8ebb0064b83f5edd8", "Malformed token"),
])
def test_missing_and_malformed_tokens_are_401(api: Api, authorization: str | None, message: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    event_id = api.app.event_ids()[0]
    params = {"organizationId": DEMO_ORGANIZATION_ID, "eventId": event_id}
    response = api.http.get(EVENT, params=params, headers=headers)
    assert error(response, 401) == message
    if authorization and len(authorization) > 20:
        assert authorization.split()[-1] not in response.text


def test_organization_id_is_checked_before_the_signature(api: Api) -> None:
    event_id = api.app.event_ids()[0]
    headers = {"Authorization": f"Bearer {api.token()}"}
    for params in ({}, {"organizationId": ""}, {"organizationId": "abc"}, {"organizationId": "19.5"}):
        response = api.http.get(EVENT, params={**params, "eventId": event_id}, headers=headers)
        assert "organizationId" in error(response, 400)
    for body in ({}, {"organizationId": ""}, {"organizationId": "abc"}, {"organizationId": 1909009.5},
                 {"organizationId": True}, {"organizationId": None}, {"organizationId": [1]}):
        response = api.http.post(EVENT, json={**body, "event": DOC_EVENT}, headers=headers)
        assert "organizationId" in error(response, 400)
    # A string of digits is read as the number.
    response = api.http.get(EVENT, params={"organizationId": str(DEMO_ORGANIZATION_ID), "eventId": event_id},
                            headers=headers)
    assert ok(response)
    # The token's form is checked first.
    assert error(api.get_event(event_id, organization_id="abc", token="xyz"), 401) == "Malformed token"


def test_a_body_that_is_not_a_json_object_is_400(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token()}", "Content-Type": "application/json"}
    for content in (b"{not json", b"[1, 2]", b"", b"\xff\xfe"):
        response = api.http.post(EVENT, content=content, headers=headers)
        assert error(response, 400) == "The request body must be a JSON object"


def test_wrong_secret_is_401_and_never_echoed(api: Api) -> None:
    event_id = api.app.event_ids()[0]
    for secret in ("wrong-secret", DEMO_SECRET.upper(), DEMO_SECRET + "x", OTHER_SECRET):
        token = api.token(secret=secret)
        response = api.get_event(event_id, token=token)
        assert error(response, 401) == "Invalid token"
        assert token not in response.text and DEMO_SECRET not in response.text
    response = api.call("POST", EVENT, token=api.token(secret="wrong"), event=DOC_EVENT)
    assert error(response, 401) == "Invalid token"


def test_tokens_are_bound_to_their_organisation(api: Api) -> None:
    main_id = api.app.event_ids()[0]
    other_ids = api.app.other_event_ids()
    assert len(other_ids) == 2 and not set(other_ids) & set(api.app.event_ids())
    other_token = api.token(organization_id=OTHER_ORGANIZATION_ID, secret=OTHER_SECRET)
    main_token = api.token()
    # A token signed for one organisation does not open the other.
    assert error(api.get_event(main_id, token=other_token), 401) == "Invalid token"
    response = api.get_event(other_ids[0], organization_id=OTHER_ORGANIZATION_ID, token=main_token)
    assert error(response, 401) == "Invalid token"
    # Nor does an unknown organisation, whatever it signs with.
    unknown = api.token(organization_id=1234567, secret=DEMO_SECRET)
    assert error(api.get_event(main_id, organization_id=1234567, token=unknown), 401) == "Invalid token"
    # The other organisation reads its own events, and not the main one's.
    for event_id in other_ids:
        response = api.get_event(event_id, organization_id=OTHER_ORGANIZATION_ID, token=other_token)
        assert ok(response)["event"]["eventId"] == event_id
    response = api.get_event(main_id, organization_id=OTHER_ORGANIZATION_ID, token=other_token)
    assert error(response) == f"Event {main_id} not found"
    assert error(api.get_event(other_ids[0])) == f"Event {other_ids[0]} not found"
    room_id = api.app.event(main_id)["mainEventRoomId"]
    response = api.call("GET", ROOM, organization_id=OTHER_ORGANIZATION_ID, token=other_token, roomId=room_id)
    assert error(response) == f"Room {room_id} not found"


def test_tokens_are_bound_to_the_client_ip(make_api: Callable[..., Api]) -> None:
    api = make_api(client_ip="203.0.113.7")
    event_id = api.app.event_ids()[0]
    assert error(api.get_event(event_id, token=api.token(client_ip=LOOPBACK)), 401) == "Invalid token"
    assert ok(api.get_event(event_id, token=api.token(client_ip="203.0.113.7")))
    # Without a configured IP the connection's address is signed.
    loopback = make_api()
    assert error(loopback.get_event(event_id, token=loopback.token(client_ip="203.0.113.7")), 401) == "Invalid token"
    assert ok(loopback.get_event(event_id, token=loopback.token(client_ip=LOOPBACK)))


def test_called_directly_the_client_ip_is_loopback() -> None:
    app = _app()
    event_id = app.event_ids()[0]
    query = {"organizationId": [str(DEMO_ORGANIZATION_ID)], "eventId": [str(event_id)]}

    def get(token: str) -> Any:
        return app.handle("GET", EVENT, query, {"Authorization": f"Bearer {token}"}, b"")

    response = get(sign(DEMO_ORGANIZATION_ID, DEMO_SECRET, LOOPBACK, time.time()))
    assert response.status == 200 and response.body["event"] == app.event(event_id)
    assert get(sign(DEMO_ORGANIZATION_ID, DEMO_SECRET, "10.0.0.1", time.time())).status == 401


def test_token_age_in_both_directions(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event_id = api.app.event_ids()[0]
    tolerance = DEFAULT_TOKEN_TOLERANCE
    assert error(api.get_event(event_id, token=api.token(offset=-tolerance - 60)), 401) == "Token expired"
    assert error(api.get_event(event_id, token=api.token(offset=tolerance + 60)), 401) == "Token not yet valid"
    assert ok(api.get_event(event_id, token=api.token(offset=-tolerance + 30)))
    assert ok(api.get_event(event_id, token=api.token(offset=tolerance - 30)))
    # A forged old token is refused for its signature, not its age.
    forged = api.token(offset=-10 * tolerance, secret="nope")
    assert error(api.get_event(event_id, token=forged), 401) == "Invalid token"
    strict = make_api(token_tolerance=5.0)
    assert error(strict.get_event(event_id, token=strict.token(offset=-60)), 401) == "Token expired"


# ---- routing and failures ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api", "/api/events", "/api/event/rooms", "/api/event/room/12", "/event"])
def test_unknown_paths_are_404_before_the_token(api: Api, path: str) -> None:
    for token in (None, api.token()):
        response = api.call("GET", path, token=token)
        assert "No such resource" in error(response, 404)


def test_other_methods_are_405_before_the_token(api: Api) -> None:
    for path, allowed in ((EVENT, "GET, POST, PUT, DELETE"), (ROOM, "GET, POST, PUT, DELETE"),
                          ("/api/event/images", "POST")):
        for method in ("PATCH", *(["GET"] if "GET" not in allowed else [])):
            response = api.http.request(method, path)
            assert "not allowed" in error(response, 405)
            assert response.headers["allow"] == allowed


def test_unsupported_apis_answer_a_status_error_after_the_token(api: Api) -> None:
    event_id = api.app.event_ids()[0]
    for method in ("GET", "POST", "PUT", "DELETE"):
        response = api.call(method, "/api/event/participant", eventId=event_id, participantId=5)
        assert error(response) == "The participant API is currently unsupported"
        assert error(api.call(method, "/api/event/participant", token=None), 401) == "Authorization token missing"
    headers = {"Authorization": f"Bearer {api.token()}"}
    params = {"organizationId": DEMO_ORGANIZATION_ID, "action": "addThumbnail", "eventId": event_id}
    response = api.http.post("/api/event/images", params=params, files={"thumbnail": ("a.png", b"\x89PNG")},
                             headers=headers)
    assert "unsupported" in error(response)


def test_requests_served_and_fail_next(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event_id = api.app.event_ids()[0]
    before = api.app.requests_served
    api.get_event(event_id)
    api.get_event(event_id, token=None)
    api.call("GET", "/nope")
    api.http.get("/_sandbox/clock")
    assert api.app.requests_served == before + 3
    api.app.fail_next(503, "Service temporarily unavailable")
    assert error(api.get_event(event_id, token=None), 503) == "Service temporarily unavailable"
    assert ok(api.get_event(event_id))
    api.app.fail_next(200, "Internal error")
    assert error(api.get_event(event_id)) == "Internal error"
    assert ok(api.get_event(event_id))


# ---- reading events ----------------------------------------------------------------------


def test_unknown_event_is_http_200_with_status_error(api: Api) -> None:
    last = max(api.app.event_ids() + api.app.other_event_ids())
    for event_id in (1, last + 1, api.app.event(api.app.event_ids()[0])["mainEventRoomId"]):
        assert error(api.get_event(event_id)) == f"Event {event_id} not found"
    assert "eventId" in error(api.call("GET", EVENT))
    assert "eventId" in error(api.get_event("abc"))
    assert "roomId" in error(api.call("GET", ROOM))
    assert error(api.call("GET", ROOM, roomId=last + 1)) == f"Room {last + 1} not found"


def _check_texts(texts: Any, *, non_empty: bool = False) -> None:
    assert isinstance(texts, dict)
    assert set(texts) <= LANGUAGES
    assert all(isinstance(text, str) and text for text in texts.values())
    if non_empty:
        assert texts


def _check_order(obj: dict[str, Any], order: list[str], optional: set[str]) -> None:
    keys = list(obj)
    assert keys == [key for key in order if key in obj]
    assert set(order) - set(keys) <= optional


def _check_event(event: dict[str, Any]) -> None:
    _check_order(event, EVENT_ORDER, EVENT_OPTIONAL)
    event_id = event["eventId"]
    assert event["restrictions"] == [] and event["accessControls"] == [] and event["categories"] == []
    assert event["serviceId"] == 0 and event["publishingInfo"] == {"serviceId": 0, "ingestUrl": ""}
    assert event["embedUrl"].endswith(f"/player/embed/event/view?eventId={event_id}")
    start, duration = event["startTime"], event["duration"]
    assert isinstance(start, int) and start > 10**12  # milliseconds
    assert isinstance(duration, int) and 0 < duration < 86_400  # seconds
    if "startTimePublic" in event:
        assert "durationPublic" in event
        assert start <= event["startTimePublic"]
        assert event["startTimePublic"] + 1000 * event["durationPublic"] <= start + 1000 * duration
    default = event["defaultLanguage"]
    assert default in LANGUAGES and event["eventLanguages"][0] == default
    assert set(event["eventLanguages"]) <= LANGUAGES
    _check_texts(event["name"], non_empty=True)
    assert default in event["name"] and "en_US" in event["name"]
    for key in ("description", "publicName"):
        _check_texts(event[key])
    for texts in event.get("gdpr", {}).values():
        _check_texts(texts, non_empty=True)
    assert set(event.get("gdpr", {})) <= {"privacyPolicy", "copyright", "termsOfService"}
    rooms = event["rooms"]
    assert rooms and event["isMultiroom"] == (len(rooms) > 1)
    ids = [room["roomId"] for room in rooms]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert event["mainEventRoomId"] in ids and event["mainEventRoomId"] == min(ids) == event_id + 1
    for room in rooms:
        _check_order(room, ROOM_ORDER, ROOM_OPTIONAL)
        assert room["eventId"] == event_id and room["recordings"] == []
        assert room["embedUrl"] == f"{event['embedUrl']}&roomId={room['roomId']}"
        assert room["publishingInfo"] == {"ingestUrl": "rtmp://ingest.icareus.example:1935/suitelive",
                                          "streamName": room["serviceId"]}
        assert start <= room["startTime"] and room["startTime"] + 1000 * room["duration"] <= start + 1000 * duration
        if "startTimePublic" in room:
            assert room["startTimePublic"] >= room["startTime"] and room["durationPublic"] > 0
        _check_texts(room["name"], non_empty=True)
        _check_texts(room["description"])
        _check_texts(room["publicName"])
        if room["roomId"] == event["mainEventRoomId"]:
            # The clock may rename the main room ("Main Room – Updated"), never its other texts.
            assert room["name"]["en_US"].startswith("Main Room")
            assert {key: room[key] for key in ("description", "publicName")} == {
                key: MAIN_ROOM_TEXTS[key] for key in ("description", "publicName")}
            assert (room["startTime"], room["duration"]) == (start, duration)
            assert "startTimePublic" not in room


def test_events_look_as_documented(api: Api) -> None:
    ids = api.app.event_ids()
    assert len(ids) == SCALES["small"].events
    assert ids[0] == 3697601 and ids == sorted(set(ids))
    steps = [b - a for a, b in zip(ids, ids[1:], strict=False)]
    assert all(2 < step < 60 for step in steps)
    room_ids: set[int] = set()
    for event_id in ids + api.app.other_event_ids():
        own = event_id in ids
        event = api.event(event_id) if own else api.app.event(event_id)
        assert event == api.app.event(event_id)
        _check_event(event)
        rooms = {room["roomId"] for room in event["rooms"]}
        assert not rooms & room_ids and not rooms & set(ids)
        room_ids |= rooms
        start = dt.datetime.fromtimestamp(event["startTime"] / 1000, dt.UTC)
        assert abs((start.date() - SANDBOX_START).days) <= 60
        assert start.minute % 15 == 0 and start.second == 0 and 6 <= start.hour <= 18
        assert event["duration"] % 900 == 0 and 3600 <= event["duration"] <= 8 * 3600
    served = set()
    for room_id in sorted(room_ids)[:6]:
        room = api.ok("GET", ROOM, roomId=room_id)["room"]
        assert room in api.event(room["eventId"])["rooms"]
        served.add(room_id)
    assert served


def test_the_synthetic_events_vary_as_described() -> None:
    app = _app(scale="medium")
    events = [app.event(event_id) for event_id in app.event_ids()]
    assert len(events) == SCALES["medium"].events

    def share(keep: Callable[[dict[str, Any]], bool]) -> float:
        return sum(map(keep, events)) / len(events)

    finnish = [e for e in events if e["defaultLanguage"] == "fi_FI"]
    assert 0.2 <= len(finnish) / len(events) <= 0.3
    assert all({"fi_FI", "en_US"} <= set(e["name"]) and e["eventLanguages"][:2] == ["fi_FI", "en_US"]
               for e in finnish)
    assert all(e["name"]["fi_FI"] != e["name"]["en_US"] for e in finnish)
    english = [e for e in events if e["defaultLanguage"] == "en_US"]
    assert 0.4 <= sum(len(e["name"]) > 1 for e in english) / len(english) <= 0.6
    for language in ("fi_FI", "sv_SE", "es_ES"):
        assert any(language in e["name"] for e in english)
    assert 0.6 <= share(lambda e: "startTimePublic" in e) <= 0.8
    assert 0.4 <= share(lambda e: "gdpr" in e) <= 0.6
    assert 0.25 <= share(lambda e: "externalId" in e) <= 0.42
    assert all(re.fullmatch(r"CRM-20\d\d-\d{4}", e["externalId"]) for e in events if "externalId" in e)
    assert 0.1 <= share(lambda e: "eventThumbnail" in e) <= 0.5
    assert 0.3 <= share(lambda e: e["isMultiroom"]) <= 0.5
    assert 0.75 <= share(lambda e: bool(e["description"])) < 1
    assert 0.75 <= share(lambda e: bool(e["publicName"])) < 1
    assert max(len(e["rooms"]) for e in events) == 5
    extra = [r for e in events for r in e["rooms"] if r["roomId"] != e["mainEventRoomId"]]
    assert any("startTimePublic" in r for r in extra) and any("startTimePublic" not in r for r in extra)
    for event in events[:40]:
        _check_event(event)


# ---- creating, editing and deleting events -------------------------------------------------


def test_create_event_as_in_the_document(make_api: Callable[..., Api]) -> None:
    api = make_api()
    before = api.app.event_ids()
    created = api.ok("POST", EVENT, event=DOC_EVENT)["event"]
    _check_event(created)
    event_id = created["eventId"]
    assert event_id > max(before + api.app.other_event_ids())
    assert api.app.event_ids() == [*before, event_id]
    expected = {
        "restrictions": [], "isMultiroom": False, "mainEventRoomId": event_id + 1,
        "embedUrl": f"https://suite.icareus.example/web/turnout-sandbox/player/embed/event/view?eventId={event_id}",
        "startTimePublic": 1637914500000, "defaultLanguage": "en_US", "durationPublic": 11700,
        "publishingInfo": {"serviceId": 0, "ingestUrl": ""}, "startTime": 1637913600000, "eventTheme": 3319901,
        "duration": 12600, "eventLanguages": ["en_US", "fi_FI"], "eventId": event_id, "serviceId": 0,
        "publicName": DOC_EVENT["publicName"], "description": DOC_EVENT["description"],
        "name": DOC_EVENT["name"], "accessControls": [], "gdpr": DOC_EVENT["gdpr"], "categories": [],
    }
    assert {key: value for key, value in created.items() if key != "rooms"} == expected
    [main] = created["rooms"]
    assert main["roomId"] == event_id + 1 and main["eventTheme"] == 3319901
    assert (main["startTime"], main["duration"]) == (1637913600000, 12600)
    assert api.event(event_id) == created
    assert api.app.settings("http://x")["SOURCES__ICAREUS__EVENT_IDS"].endswith(f",{event_id}")


def test_create_event_defaults_and_strings(make_api: Callable[..., Api]) -> None:
    api = make_api()
    created = api.ok("POST", EVENT, event={"name": "Nimi", "startTime": 1780000200000, "duration": 3600,
                                           "defaultLanguage": "fi_FI", "description": "Kuvaus",
                                           "externalId": "CRM-2026-9999", "accessControl": {"accessControlType": 7}})
    assert created["event"]["name"] == {"fi_FI": "Nimi"}
    assert created["event"]["description"] == {"fi_FI": "Kuvaus"}
    assert created["event"]["publicName"] == {}
    assert created["event"]["eventLanguages"] == ["fi_FI"]
    assert created["event"]["eventTheme"] == 3319901
    assert created["event"]["externalId"] == "CRM-2026-9999"
    assert created["event"]["accessControls"] == []
    assert "startTimePublic" not in created["event"] and "gdpr" not in created["event"]
    other = api.ok("POST", EVENT, event={"name": {"en_US": "X"}, "startTime": 1780000200000, "duration": 60,
                                         "defaultLanguage": "sv_SE", "eventLanguages": ["fi_FI", "fi_FI"]})
    assert other["event"]["eventLanguages"] == ["sv_SE", "fi_FI"]


@pytest.mark.parametrize(("change", "field"), [
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"name": {}}, "name"),
    ({"name": 12}, "name"),
    ({"name": {"de_DE": "Deutsch"}}, "de_DE"),
    ({"name": {"en_US": 5}}, "name.en_US"),
    ({"description": ["x"]}, "description"),
    ({"startTime": None}, "startTime"),
    ({"startTime": "1637913600000"}, "startTime"),
    ({"duration": None}, "duration"),
    ({"duration": 0}, "duration"),
    ({"duration": 12.5}, "duration"),
    ({"durationPublic": None}, "durationPublic"),
    ({"defaultLanguage": "en"}, "defaultLanguage"),
    ({"eventLanguages": "en_US"}, "eventLanguages"),
    ({"eventLanguages": ["en_US", "xx_XX"]}, "eventLanguages"),
    ({"eventTheme": "3319901"}, "eventTheme"),
    ({"gdpr": "yes"}, "gdpr"),
    ({"gdpr": {"copyright": 2026}}, "gdpr.copyright"),
    ({"externalId": 42}, "externalId"),
])
def test_create_event_validation(api: Api, change: dict[str, Any], field: str) -> None:
    before = api.app.event_ids()
    event = {**DOC_EVENT, **change}
    message = error(api.call("POST", EVENT, event={k: v for k, v in event.items() if v is not None}))
    assert field in message
    assert api.app.event_ids() == before


def test_create_event_needs_an_event_object(api: Api) -> None:
    assert "event" in error(api.call("POST", EVENT))
    assert "event" in error(api.call("POST", EVENT, event=["x"]))


def test_edit_event_merges_translations_as_in_the_document(make_api: Callable[..., Api]) -> None:
    api = make_api()
    created = api.ok("POST", EVENT, event=DOC_EVENT)["event"]
    event_id = created["eventId"]
    edited = api.ok("PUT", EVENT, eventId=event_id, event=DOC_EDIT)["event"]
    assert edited["name"] == {"en_US": "English name", "sv_SE": "Swedish name", "fi_FI": "Finnish name"}
    assert edited["description"] == {
        "en_US": "English description", "sv_SE": "Swedish description", "fi_FI": "Finnish description"}
    assert edited["publicName"] == {
        "en_US": "English public name", "sv_SE": "Swedish public name", "fi_FI": "Finnish public name"}
    assert edited["eventLanguages"] == ["en_US", "fi_FI", "sv_SE"]
    unchanged = {key for key in created if key not in {"name", "description", "publicName", "eventLanguages"}}
    assert {key: edited[key] for key in unchanged} == {key: created[key] for key in unchanged}
    assert api.event(event_id) == edited

    # A string replaces the default language's text; languages keep the default one.
    edited = api.ok("PUT", EVENT, eventId=event_id,
                    event={"name": "Renamed", "eventLanguages": ["sv_SE"], "gdpr": {"copyright": {"sv_SE": "©"}}})
    edited = edited["event"]
    assert edited["name"] == {"en_US": "Renamed", "sv_SE": "Swedish name", "fi_FI": "Finnish name"}
    assert edited["eventLanguages"] == ["en_US", "sv_SE"]
    assert edited["gdpr"]["copyright"] == {**DOC_EVENT["gdpr"]["copyright"], "sv_SE": "©"}
    assert edited["gdpr"]["privacyPolicy"] == DOC_EVENT["gdpr"]["privacyPolicy"]

    # Moving the event leaves its rooms where they were.
    main_before = edited["rooms"][0]
    moved = api.ok("PUT", EVENT, eventId=event_id,
                   event={"startTime": 1637917200000, "duration": 7200, "defaultLanguage": "fi_FI"})["event"]
    assert (moved["startTime"], moved["duration"]) == (1637917200000, 7200)
    assert moved["rooms"] == [main_before]
    assert moved["defaultLanguage"] == "fi_FI" and moved["eventLanguages"] == ["fi_FI", "en_US", "sv_SE"]
    assert api.ok("PUT", EVENT, eventId=event_id, event={"name": "Uusi nimi"})["event"]["name"]["fi_FI"] == "Uusi nimi"
    # The main room now starts before the event: its texts can still be edited, its times only into the span.
    main_id = moved["mainEventRoomId"]
    renamed = api.ok("PUT", ROOM, roomId=main_id, room={"name": {"en_US": "Renamed main room"}})["room"]
    assert renamed["name"] == {"en_US": "Renamed main room"} and renamed["startTime"] == main_before["startTime"]
    assert "before the event" in error(api.call("PUT", ROOM, roomId=main_id, room={"duration": 3600}))
    inside = {"startTime": 1637917200000, "duration": 7200}
    assert api.ok("PUT", ROOM, roomId=main_id, room=inside)["room"]["startTime"] == 1637917200000


def test_edit_event_validation_changes_nothing(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event_id = api.app.event_ids()[0]
    before = api.app.event(event_id)
    for event, field in (
        ({"name": ""}, "name"),
        ({"duration": -5}, "duration"),
        ({"name": {"xx": "y"}, "duration": 7200}, "xx"),
        ({"defaultLanguage": "fr_FR"}, "defaultLanguage"),
        ({"startTime": 1.5}, "startTime"),
    ):
        assert field in error(api.call("PUT", EVENT, eventId=event_id, event=event))
    assert "eventId" in error(api.call("PUT", EVENT, event={"name": "x"}))
    assert "eventId" in error(api.call("PUT", EVENT, eventId="1", event={"name": "x"}))
    assert error(api.call("PUT", EVENT, eventId=5, event={"name": "x"})) == "Event 5 not found"
    assert api.app.event(event_id) == before
    plain = api.ok("POST", EVENT, event={"name": "x", "startTime": 1780000200000, "duration": 3600})["event"]
    message = error(api.call("PUT", EVENT, eventId=plain["eventId"], event={"startTimePublic": 1780000200000}))
    assert "durationPublic" in message
    fixed = {"startTimePublic": 1780000200000, "durationPublic": 1800}
    assert api.ok("PUT", EVENT, eventId=plain["eventId"], event=fixed)["event"]["durationPublic"] == 1800


def test_delete_event(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event_id = api.app.event_ids()[2]
    room_ids = [room["roomId"] for room in api.event(event_id)["rooms"]]
    assert api.ok("DELETE", EVENT, eventId=event_id) == {"status": "ok"}
    assert error(api.get_event(event_id)) == f"Event {event_id} not found"
    assert error(api.call("DELETE", EVENT, eventId=event_id)) == f"Event {event_id} not found"
    for room_id in room_ids:
        assert error(api.call("GET", ROOM, roomId=room_id)) == f"Room {room_id} not found"
    assert event_id not in api.app.event_ids() and api.app.event(event_id) is None
    assert str(event_id) not in api.app.settings("http://x")["SOURCES__ICAREUS__EVENT_IDS"].split(",")
    other_token = api.token(organization_id=OTHER_ORGANIZATION_ID, secret=OTHER_SECRET)
    other_id = api.app.other_event_ids()[0]
    assert error(api.call("DELETE", EVENT, eventId=other_id)) == f"Event {other_id} not found"
    assert api.app.event(other_id) is not None
    response = api.call("DELETE", EVENT, organization_id=OTHER_ORGANIZATION_ID, token=other_token, eventId=other_id)
    assert ok(response) == {"status": "ok"}
    assert other_id not in api.app.other_event_ids()
    # Ids are never reused.
    created = api.ok("POST", EVENT, event=DOC_EVENT)["event"]
    assert created["eventId"] > max(room_ids)


# ---- rooms -----------------------------------------------------------------------------------


def test_create_room_as_in_the_document(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event = api.ok("POST", EVENT, event=DOC_EVENT)["event"]
    event = api.ok("PUT", EVENT, eventId=event["eventId"], event=DOC_EDIT)["event"]
    answer = api.ok("POST", ROOM, eventId=event["eventId"], room=DOC_ROOM)["event"]
    _check_event(answer)
    new, main = answer["rooms"]
    assert main == event["rooms"][0]
    assert answer["isMultiroom"] is True and answer["mainEventRoomId"] == main["roomId"]
    assert {key: value for key, value in answer.items() if key not in ("rooms", "isMultiroom")} == {
        key: value for key, value in event.items() if key not in ("rooms", "isMultiroom")}
    room_id = new["roomId"]
    assert room_id > main["roomId"]
    assert new == {
        "eventTheme": 3319901, "startTime": 1637913600000, "duration": 12600, "recordings": [],
        "serviceId": 2977205, "eventId": event["eventId"], "startTimePublic": 1637914500000,
        "durationPublic": 11700, "description": DOC_ROOM["description"], "publicName": DOC_ROOM["publicName"],
        "name": DOC_ROOM["name"], "embedUrl": f"{event['embedUrl']}&roomId={room_id}", "roomId": room_id,
        "publishingInfo": {"ingestUrl": "rtmp://ingest.icareus.example:1935/suitelive", "streamName": 2977205},
    }
    assert api.ok("GET", ROOM, roomId=room_id)["room"] == new
    assert api.event(event["eventId"]) == answer


def test_room_validation(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event = api.ok("POST", EVENT, event=DOC_EVENT)["event"]
    event_id, start, end = event["eventId"], DOC_EVENT["startTime"], DOC_EVENT["startTime"] + 12600_000
    room = {"name": "Track B", "startTime": start, "duration": 3600}
    for change, phrase in (
        ({"startTime": start - 1}, "before the event's startTime"),
        ({"startTime": end - 3_599_000}, "cannot end after the event"),
        ({"duration": 12601}, "cannot end after the event"),
        ({"startTimePublic": start + 600_000}, "durationPublic is required"),
        ({"startTimePublic": start - 1000, "durationPublic": 60}, "startTimePublic cannot be before startTime"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"startTime": None}, "startTime"),
        ({"duration": None}, "duration"),
        ({"serviceId": "x"}, "serviceId"),
    ):
        body = {key: value for key, value in {**room, **change}.items() if value is not None}
        assert phrase in error(api.call("POST", ROOM, eventId=event_id, room=body)), change
    assert api.event(event_id) == event
    # A room exactly filling the event, and one ending exactly with it, are fine.
    whole = api.ok("POST", ROOM, eventId=event_id, room={**room, "duration": 12600})["event"]["rooms"][0]
    assert whole["name"] == {"en_US": "Track B"} and whole["serviceId"] > 0
    tail = {**room, "startTime": end - 3_600_000, "startTimePublic": end - 1_800_000, "durationPublic": 1800}
    assert api.ok("POST", ROOM, eventId=event_id, room=tail)["event"]["rooms"][0]["durationPublic"] == 1800
    # A channel is not used by two rooms at once.
    busy = {**room, "serviceId": whole["serviceId"]}
    assert "serviceId" in error(api.call("POST", ROOM, eventId=event_id, room=busy))
    assert error(api.call("POST", ROOM, eventId=5, room=room)) == "Event 5 not found"
    assert "eventId" in error(api.call("POST", ROOM, room=room))
    assert "room" in error(api.call("POST", ROOM, eventId=event_id))


def test_edit_get_and_delete_rooms(make_api: Callable[..., Api]) -> None:
    api = make_api()
    event = api.ok("POST", EVENT, event=DOC_EVENT)["event"]
    event_id, main_id = event["eventId"], event["mainEventRoomId"]
    # The document's example: edit the main room's texts.
    texts = {
        "name": {"en_US": "English main room name", "fi_FI": "Finnish main room name"},
        "description": {"en_US": "English main room description", "fi_FI": "Finnish main room description"},
        "publicName": {"en_US": "English main room public name", "fi_FI": "Finnish main room public name"},
    }
    edited = api.ok("PUT", ROOM, roomId=main_id, room=texts)["room"]
    assert {key: edited[key] for key in texts} == texts
    assert {k: v for k, v in edited.items() if k not in texts} == {
        k: v for k, v in event["rooms"][0].items() if k not in texts}
    assert api.ok("GET", ROOM, roomId=main_id)["room"] == edited
    merged = api.ok("PUT", ROOM, roomId=main_id, room={"name": {"sv_SE": "Stora salen"}, "publicName": "Main"})
    assert merged["room"]["name"] == {**texts["name"], "sv_SE": "Stora salen"}
    assert merged["room"]["publicName"] == {**texts["publicName"], "en_US": "Main"}

    room = api.ok("POST", ROOM, eventId=event_id, room={"name": "Track B", "startTime": DOC_EVENT["startTime"],
                                                        "duration": 1800})["event"]["rooms"][0]
    room_id = room["roomId"]
    later = api.ok("PUT", ROOM, roomId=room_id, room={"startTime": DOC_EVENT["startTime"] + 3_600_000})["room"]
    assert later["startTime"] == DOC_EVENT["startTime"] + 3_600_000 and later["duration"] == 1800
    assert "cannot end after the event" in error(api.call("PUT", ROOM, roomId=room_id, room={"duration": 12600}))
    assert "before the event" in error(api.call("PUT", ROOM, roomId=room_id, room={"startTime": 0}))
    public = {"startTimePublic": DOC_EVENT["startTime"] + 3_600_000}
    assert "durationPublic" in error(api.call("PUT", ROOM, roomId=room_id, room=public))
    assert api.ok("GET", ROOM, roomId=room_id)["room"] == later
    assert error(api.call("PUT", ROOM, roomId=1, room={"name": "x"})) == "Room 1 not found"
    assert "roomId" in error(api.call("PUT", ROOM, room={"name": "x"}))

    assert error(api.call("DELETE", ROOM, roomId=main_id)) == "The main room of an event cannot be deleted"
    assert api.ok("DELETE", ROOM, roomId=room_id) == {"status": "ok"}
    assert error(api.call("GET", ROOM, roomId=room_id)) == f"Room {room_id} not found"
    assert error(api.call("DELETE", ROOM, roomId=room_id)) == f"Room {room_id} not found"
    after = api.event(event_id)
    assert [r["roomId"] for r in after["rooms"]] == [main_id] and after["isMultiroom"] is False


# ---- determinism and the clock ------------------------------------------------------------------


def _everything(app: IcareusSandbox) -> dict[int, dict[str, Any]]:
    return {event_id: app.event(event_id) for event_id in app.event_ids() + app.other_event_ids()}


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, second, other = _app(), _app(), _app(seed=SEED + 1)
    assert _everything(first) == _everything(second)
    assert _everything(first) != _everything(other)
    assert first.settings("x") == second.settings("x") != other.settings("x")
    assert _everything(_app(start_date=SANDBOX_START + dt.timedelta(days=1))) != _everything(first)


def test_scales_and_settings() -> None:
    assert set(SCALES) == {"small", "medium", "large"}
    started = time.perf_counter()
    large = _app(scale="large")
    assert time.perf_counter() - started < 2
    assert len(large.event_ids()) == 2_000
    assert len(_app(scale="medium").event_ids()) == 300
    assert len(_app(events=40).event_ids()) == 40
    with pytest.raises(ValueError):
        IcareusSandbox(scale="huge")
    with pytest.raises(ValueError):
        IcareusSandbox(organization_id=OTHER_ORGANIZATION_ID)
    assert IcareusSandbox.vendor == "icareus" and IcareusSandbox.title == "Icareus Suite"

    app = _app()
    settings = app.settings("http://127.0.0.1:9")
    assert settings == {
        "SOURCES__ICAREUS__BASE_URL": "http://127.0.0.1:9",
        "SOURCES__ICAREUS__ORGANIZATION_ID": str(DEMO_ORGANIZATION_ID),
        "SOURCES__ICAREUS__SECRET": DEMO_SECRET,
        "SOURCES__ICAREUS__CLIENT_IP": LOOPBACK,
        "SOURCES__ICAREUS__EVENT_IDS": ",".join(str(i) for i in app.event_ids()),
    }
    custom = _app(organization_id=42, secret="s3", client_ip="203.0.113.7").settings("u")
    assert custom["SOURCES__ICAREUS__ORGANIZATION_ID"] == "42"
    assert custom["SOURCES__ICAREUS__SECRET"] == "s3"
    assert custom["SOURCES__ICAREUS__CLIENT_IP"] == "203.0.113.7"


def _top(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in ("rooms", "isMultiroom")}


def _check_day(app: IcareusSandbox, before: dict[int, dict[str, Any]], summary: dict[str, Any]) -> None:
    """What one advanced day changed matches its summary, and only events not yet started changed."""
    assert SUMMARY_KEYS <= set(summary)
    after = _everything(app)
    assert set(after) == set(before)  # the clock creates and deletes no events
    now = _now_ms(app)
    highest = max(max(before), *(r["roomId"] for e in before.values() for r in e["rooms"]))
    modified = added = deleted = renamed = 0
    for event_id, old in before.items():
        new = after[event_id]
        if new == old:
            continue
        assert old["startTime"] > now, event_id
        assert event_id in app.event_ids()
        _check_event(new)
        modified += _top(new) != _top(old)
        old_rooms = {r["roomId"]: r for r in old["rooms"]}
        new_rooms = {r["roomId"]: r for r in new["rooms"]}
        added += len(set(new_rooms) - set(old_rooms))
        assert all(room_id > highest for room_id in set(new_rooms) - set(old_rooms))
        deleted += len(set(old_rooms) - set(new_rooms))
        assert old["mainEventRoomId"] in new_rooms
        delta = new["startTime"] - old["startTime"]
        if delta:
            assert delta % 900_000 == 0 and 15 * 60_000 <= abs(delta) <= 120 * 60_000
        for room_id in set(old_rooms) & set(new_rooms):
            assert new_rooms[room_id]["startTime"] - old_rooms[room_id]["startTime"] == delta
            renamed += new_rooms[room_id]["name"] != old_rooms[room_id]["name"]
    assert (modified, added, deleted, renamed) == (
        summary["modified_events"], summary["added_rooms"], summary["deleted_rooms"], summary["modified_rooms"])


@pytest.mark.parametrize(("scale", "days"), [("small", 5), ("medium", 2)])
def test_advance_changes_only_events_not_started(scale: str, days: int) -> None:
    app = _app(scale=scale)
    totals = dict.fromkeys(SUMMARY_KEYS, 0)
    for _ in range(days):
        before = _everything(app)
        summary = app.advance(1)
        assert set(summary) == SUMMARY_KEYS
        _check_day(app, before, summary)
        for key in SUMMARY_KEYS:
            totals[key] += summary[key]
    assert totals["modified_events"] >= days
    if scale == "medium":
        assert all(totals[key] >= 1 for key in SUMMARY_KEYS), totals


def test_advance_over_http_and_two_days_equal_one_day_twice(make_api: Callable[..., Api]) -> None:
    once, twice = make_api(), make_api()
    together = once.advance(2)
    day_one, day_two = twice.advance(1), twice.advance(1)
    assert together["today"] == day_two["today"] == (SANDBOX_START + dt.timedelta(days=2)).isoformat()
    for key in SUMMARY_KEYS:
        assert together[key] == day_one[key] + day_two[key]
    assert _everything(once.app) == _everything(twice.app)
    event_id = once.app.event_ids()[-1]
    assert once.event(event_id) == twice.event(event_id) == once.app.event(event_id)
    # Events created over the API take part in the days that follow, alike in both.
    for api in (once, twice):
        _new_event(api)
        api.advance(3)
    assert _everything(once.app) == _everything(twice.app)


def test_event_hook_is_a_copy(api: Api) -> None:
    event_id = api.app.event_ids()[0]
    event = api.app.event(event_id)
    event["name"]["en_US"] = "changed"
    event["rooms"].clear()
    assert api.app.event(event_id) == api.event(event_id) != event
    assert api.app.event(1) is None

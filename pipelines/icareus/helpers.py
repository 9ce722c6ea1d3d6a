"""Icareus Suite HTTP details: the signed token, the status envelope, multilingual texts."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from pipelines.http import Redactor, VendorAuthError, VendorClient, VendorError
from pipelines.records import ParseDate, epoch_milliseconds, record_problem

log = logging.getLogger("turnout.icareus")

EVENT_PATH = "/api/event"
EVENT_KEY = ("eventId",)
# Epoch milliseconds that staging turns into the event's times.
EVENT_DATES: dict[str, ParseDate] = {"startTime": epoch_milliseconds, "startTimePublic": epoch_milliseconds}
UNAUTHORIZED = 401
# A 401 may mean the token went stale in flight: sign anew and retry, a few times at most.
RENEWALS_ON_401 = 2
STATUS_OK = "ok"
# A token is signed again at least this often: fresh enough for any tolerance the
# vendor allows, while the number of tokens to keep out of logs stays small.
TOKEN_REUSE_SECONDS = 30.0
# The vendor's Date header has whole seconds: smaller differences are not skew.
NOTICEABLE_SKEW_SECONDS = 5.0
# Texts sent as a plain string are saved under the default language, 'en_US' unless set.
DEFAULT_LANGUAGE = "en_US"
MULTILINGUAL_FIELDS = ("name", "description", "publicName")
# Stream ingest addresses let anyone who holds them broadcast into a room: never stored.
NOT_STORED = ("publishingInfo",)
AUTH_HINT = ("check organization_id, secret and client_ip (Icareus signs the caller's public address) "
             "and that this machine's clock is right")
EVENT_ID_SEPARATORS = re.compile(r"[\s,;\[\]]+")

Row = dict[str, Any]


def sign_token(organization_id: int | str, secret: str, client_ip: str, unix_seconds: float) -> str:
    """The documented token: 8 hex digits of Unix seconds, then MD5 of `org:hexTime:secret:ip`."""
    hex_time = f"{int(unix_seconds) & 0xFFFFFFFF:08x}"
    signature = hashlib.md5(f"{organization_id}:{hex_time}:{secret}:{client_ip}".encode()).hexdigest()
    return hex_time + signature


class SignedToken(httpx.Auth):
    """Bearer auth with a token the client signs itself, never older than `reuse_seconds`.

    A 401 gets one more try with a token signed just then. If the 401 came with
    a `Date` that disagrees with the local clock, later tokens are signed by
    the vendor's clock, so a machine whose clock drifted keeps working.
    """

    requires_response_body = False

    def __init__(self, organization_id: int, secret: str, client_ip: str, *,
                 clock: Callable[[], float] = time.time, reuse_seconds: float = TOKEN_REUSE_SECONDS) -> None:
        self._organization_id, self._secret, self._client_ip = organization_id, secret, client_ip
        self._clock, self._reuse = clock, reuse_seconds
        self._lock = threading.Lock()
        self._token: str | None = None
        self._signed_at = -math.inf
        self.offset = 0.0  # seconds to add to the local clock to read the vendor's
        self.tokens_signed = 0
        self.redactors: list[Redactor] = []

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.current_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        for _ in range(RENEWALS_ON_401):
            if response.status_code != UNAUTHORIZED:
                return
            self.learn_vendor_clock(response.headers.get("Date"))
            token = self.renew(rejected=token)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request

    def current_token(self) -> str:
        with self._lock:
            now = self._clock() + self.offset
            if self._token is None or not self._signed_at <= now < self._signed_at + self._reuse:
                self._sign(now)
            assert self._token is not None
            return self._token

    def renew(self, rejected: str) -> str:
        """A token signed now, unless another request has already replaced `rejected`."""
        with self._lock:
            if self._token == rejected:
                self._sign(self._clock() + self.offset)
            assert self._token is not None
            return self._token

    def learn_vendor_clock(self, date_header: str | None) -> None:
        try:
            vendor_now = parsedate_to_datetime(date_header or "")
        except (TypeError, ValueError):
            return
        if vendor_now.tzinfo is None:
            vendor_now = vendor_now.replace(tzinfo=UTC)
        offset = vendor_now.timestamp() - self._clock()
        with self._lock:
            if abs(offset - self.offset) < NOTICEABLE_SKEW_SECONDS:
                return
            self.offset = round(offset)
        log.warning("Icareus Suite: this machine's clock is %+.0f s off the vendor's; signing tokens "
                    "by the vendor's clock", -offset)

    def _sign(self, now: float) -> None:
        self._token = sign_token(self._organization_id, self._secret, self._client_ip, now)
        self._signed_at = math.floor(now)
        self.tokens_signed += 1
        for redactor in self.redactors:
            redactor.add(self._token)


def describe_error(text: str) -> str | None:
    """The vendor's `{"status": "error", "message": ...}` body as one line."""
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    if isinstance(payload, Mapping) and payload.get("message"):
        return f'status "{payload.get("status")}": {payload["message"]}'
    return None


def read_event(client: VendorClient, organization_id: int, event_id: int) -> Row:
    """One event with its rooms. A `"status": "error"` answer is an error even under HTTP 200."""
    params = {"eventId": event_id, "organizationId": organization_id}
    request = f"GET {EVENT_PATH}?eventId={event_id}&organizationId={organization_id}"
    try:
        payload = client.get_json(EVENT_PATH, params)
    except VendorAuthError as error:
        raise VendorAuthError(error.vendor, request, f"{error.detail}; {AUTH_HINT}", error.status) from None
    except VendorError as error:
        raise error.for_request(request) from None
    if not isinstance(payload, Mapping):
        raise client.response_error(EVENT_PATH, f"expected a JSON object, got {type(payload).__name__}"
                                    ).for_request(request)
    if payload.get("status") != STATUS_OK:
        message = payload.get("message") or "no message"
        raise client.response_error(
            EVENT_PATH, f'the vendor answered status "{payload.get("status")}" (HTTP 200): {message}'
        ).for_request(request)
    event = payload.get("event")
    if not isinstance(event, Mapping):
        raise client.response_error(EVENT_PATH, "the answer has no 'event' object").for_request(request)
    problem = record_problem(event, EVENT_KEY, EVENT_DATES)
    if problem:
        raise client.response_error(EVENT_PATH, f"event {event_id}: {problem}").for_request(request)
    if str(event.get("eventId")) != str(event_id):
        raise client.response_error(
            EVENT_PATH, f"asked for event {event_id}, got eventId {event.get('eventId')!r}").for_request(request)
    rooms = event.get("rooms")
    if rooms is not None and not isinstance(rooms, list):
        raise client.response_error(EVENT_PATH, f"field 'rooms' of event {event_id} is "
                                                f"{type(rooms).__name__}, expected a list").for_request(request)
    for position, room in enumerate(rooms or ()):
        if not isinstance(room, Mapping) or room.get("roomId") is None:
            raise client.response_error(
                EVENT_PATH, f"room {position} of event {event_id} has no 'roomId'").for_request(request)
    return dict(event)


def texts(value: Any, default_language: str) -> dict[str, str] | None:
    """A multilingual field as {language: text}; a plain string belongs to the default language."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(language): str(text) for language, text in value.items() if text is not None}
    return {default_language: str(value)}


def clean(item: Mapping[str, Any], default_language: str) -> Row:
    """An event or room as stored: translations as {language: text}, publishing credentials left out."""
    row = {key: value for key, value in item.items() if key not in NOT_STORED}
    for field in MULTILINGUAL_FIELDS:
        if field in row:
            row[field] = texts(row[field], default_language)
    return row


def end_ms(event: Mapping[str, Any]) -> int | None:
    """When an event ends, in milliseconds: `startTime` plus `duration` seconds."""
    try:
        return int(event["startTime"]) + 1000 * int(event["duration"])
    except (KeyError, TypeError, ValueError):
        return None


def parse_event_ids(value: Any, setting: str) -> list[int]:
    """Configured event ids: a list, or text such as `1,2,3` or `[1, 2, 3]`; order kept, duplicates dropped."""
    items = value if isinstance(value, (list, tuple)) else EVENT_ID_SEPARATORS.split(str(value or ""))
    ids: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not text.isdigit() or int(text) == 0:
            raise ValueError(f"{setting} must list event ids (positive integers), got {text!r}")
        if int(text) not in ids:
            ids.append(int(text))
    if not ids:
        raise ValueError(f"{setting} lists no event ids")
    return ids


def parse_organization_id(value: Any, setting: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{setting} must be the numeric Suite organization id, got {text!r}")
    return int(text)


def parse_client_ip(value: Any, setting: str) -> str:
    text = str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{setting} must be the IP address Icareus sees this machine calling from "
                         f"(its public address), got {text!r}") from None

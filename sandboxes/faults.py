"""Fault injection for the vendor sandboxes, switched by settings.

A :class:`FaultPlan` says which faults to inject and how often; a
:class:`FaultInjector` (``SandboxServer.faults``) applies it to every request
to a vendor's API, counting what it did. Control routes (``/_sandbox/...``)
are never faulted.

Three families of kinds:

* transient (``TRANSIENT_KINDS``): a share ``rate`` of the API requests gets
  one, drawn from a ``random.Random(seed)`` under a lock, so a given request
  order always meets the same faults. Status and throttle answers and the
  expired token never reach the app; ``reset`` and ``truncated`` corrupt the
  app's real answer; ``slow`` answers late. None of them changes the data.
* drift (``DRIFT_KINDS``): every event record of the vendor's event responses
  gains, retypes or loses a field, for as long as the kind is enabled.
* bad data (``BAD_DATA_KINDS``): the first event record of each event response
  loses its key, has it null or carries an unreadable date, or the whole event
  response is an HTML error page, for as long as the kind is enabled.

Each vendor's app says where its event records are and which fields drift and
bad data touch, in its ``fault_target`` (a :class:`FaultTarget`).

Settings (environment)::

    TURNOUT_SANDBOX_FAULT_RATE    share of API requests given a transient fault, 0..1
    TURNOUT_SANDBOX_FAULTS        kinds or groups, comma-separated (default "transient")
    TURNOUT_SANDBOX_FAULT_SEED    seed of the draws (default 0)
    TURNOUT_SANDBOX_SLOW_SECONDS  how late a "slow" answer comes (default 5)
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http
import json
import math
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree

from sandboxes.server import XML_CONTENT_TYPE, SandboxResponse

if TYPE_CHECKING:
    from sandboxes.server import SandboxApp

HTTP_500, HTTP_502, HTTP_503 = "http_500", "http_502", "http_503"
THROTTLE_SECONDS, THROTTLE_DATE, THROTTLE_ZERO = "throttle_seconds", "throttle_date", "throttle_zero"
RESET, SLOW, TRUNCATED, EXPIRED_TOKEN = "reset", "slow", "truncated", "expired_token"
DRIFT_NEW_FIELD, DRIFT_TYPE_CHANGE, DRIFT_FIELD_GONE = "drift_new_field", "drift_type_change", "drift_field_gone"
BAD_PAGE, MISSING_KEY, NULL_KEY, BAD_DATE = "bad_page", "missing_key", "null_key", "bad_date"

TRANSIENT_KINDS: tuple[str, ...] = (
    HTTP_500, HTTP_502, HTTP_503, THROTTLE_SECONDS, THROTTLE_DATE, THROTTLE_ZERO,
    RESET, SLOW, TRUNCATED, EXPIRED_TOKEN,
)
DRIFT_KINDS: tuple[str, ...] = (DRIFT_NEW_FIELD, DRIFT_TYPE_CHANGE, DRIFT_FIELD_GONE)
BAD_DATA_KINDS: tuple[str, ...] = (BAD_PAGE, MISSING_KEY, NULL_KEY, BAD_DATE)
ALL_KINDS: tuple[str, ...] = TRANSIENT_KINDS + DRIFT_KINDS + BAD_DATA_KINDS
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "transient": TRANSIENT_KINDS,
    "drift": DRIFT_KINDS,
    "bad_data": BAD_DATA_KINDS,
}
DEFAULT_GROUP = "transient"

RATE_ENV = "TURNOUT_SANDBOX_FAULT_RATE"
KINDS_ENV = "TURNOUT_SANDBOX_FAULTS"
SEED_ENV = "TURNOUT_SANDBOX_FAULT_SEED"
SLOW_SECONDS_ENV = "TURNOUT_SANDBOX_SLOW_SECONDS"
DEFAULT_SEED = 0
DEFAULT_SLOW_SECONDS = 5.0

STATUS_FAULTS = {HTTP_500: 500, HTTP_502: 502, HTTP_503: 503}
THROTTLES = (THROTTLE_SECONDS, THROTTLE_DATE, THROTTLE_ZERO)
TOO_MANY_REQUESTS = 429
# Retry-After of the throttles: the client should wait about a second, or not at all.
RETRY_AFTER_SECONDS = 1
# A stopped server ends a slow answer with this instead of calling the app.
STOPPING_STATUS = 503

NEW_FIELD_VALUE = "SPRING"
# Day 31 of February, hour 25, minute 61: no date parser reads it.
BAD_DATE_VALUE = "31/02/2026 25:61"
# Not JSON, and not well-formed XML either (the <hr> is never closed).
BAD_PAGE_BODY = b"<html><head><title>upstream error</title></head><body>upstream error<hr></body></html>\n"
# Parse as the BRP source does: never fetch or expand anything a document points to.
SAFE_XML_PARSING = {"resolve_entities": False, "no_network": True, "load_dtd": False}
RETYPED_CHILD = "value"


@dataclass(frozen=True)
class FaultTarget:
    """Where a vendor's event records are, and the fields drift and bad data touch.

    ``paths`` are regular expressions the whole request path (GET) must match:
    the event list and detail endpoints. ``records`` leads from the parsed
    JSON body to the list of events (or to the one event of a detail answer):
    keys and list indexes in turn; for XML (``xml=True``) it is the root
    element's name, then an event's (its children). ``key`` is the event id
    field, ``date`` a date/time field the source or staging parses;
    ``new_field`` is added, ``retyped_field`` changes type and ``gone_field``
    is left out by drift. The fields drift touches are neither the key nor
    ones the source needs.
    """

    paths: tuple[str, ...]
    records: tuple[str | int, ...]
    key: str
    date: str
    new_field: str
    retyped_field: str
    gone_field: str
    xml: bool = False

    def applies_to(self, method: str, path: str) -> bool:
        if method.upper() != "GET":
            return False
        path = path.rstrip("/") or "/"
        return any(re.fullmatch(pattern, path) for pattern in self.paths)


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to inject: ``rate`` (0..1) of the API requests get one of the
    transient ``kinds``; drift and bad-data kinds apply whenever enabled.

    ``kinds`` may name groups ('transient', 'drift', 'bad_data'), as a tuple
    or a comma-separated string; they are stored expanded, in order, once each.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = TRANSIENT_KINDS
    seed: int = DEFAULT_SEED
    slow_seconds: float = DEFAULT_SLOW_SECONDS

    def __post_init__(self) -> None:
        rate = float(self.rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be from 0 to 1, got {self.rate!r}")
        slow = float(self.slow_seconds)
        if not (slow >= 0.0 and math.isfinite(slow)):
            raise ValueError(f"slow_seconds must be a non-negative number, got {self.slow_seconds!r}")
        kinds = self.kinds
        names = kinds.split(",") if isinstance(kinds, str) else list(kinds)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "slow_seconds", slow)
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "kinds", _expand(names))

    @staticmethod
    def parse_kinds(text: str) -> tuple[str, ...]:
        """Kinds from a comma-separated list of kinds and groups ('transient', 'drift', 'bad_data')."""
        return _expand(text.split(","))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FaultPlan | None:
        """The plan the TURNOUT_SANDBOX_* settings describe; None when neither rate nor kinds is set."""
        # An empty setting counts as unset.
        values = {name: env.get(setting) or None for name, setting in _ENV_NAMES.items()}
        return _plan_from(values, _ENV_NAMES, off_when_idle=False)

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> FaultPlan | None:
        """The plan of a control request's query; None when it switches faults off."""
        values = {name: (query.get(name) or [None])[0] for name in _QUERY_NAMES}
        return _plan_from(values, _QUERY_NAMES, off_when_idle=True)

    @property
    def transient_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.kinds if kind in TRANSIENT_KINDS)

    @property
    def persistent_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.kinds if kind not in TRANSIENT_KINDS)

    @property
    def idle(self) -> bool:
        """Whether the plan changes nothing at all."""
        return not self.persistent_kinds and not (self.rate > 0 and self.transient_kinds)

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "kinds": list(self.kinds), "seed": self.seed, "slow_seconds": self.slow_seconds}


_ENV_NAMES = {"rate": RATE_ENV, "kinds": KINDS_ENV, "seed": SEED_ENV, "slow_seconds": SLOW_SECONDS_ENV}
_QUERY_NAMES = {"rate": "rate", "kinds": "kinds", "seed": "seed", "slow_seconds": "slow_seconds"}


def _expand(names: Iterable[str]) -> tuple[str, ...]:
    """Known kinds in the order given, groups expanded, duplicates and blanks dropped."""
    kinds: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name in KIND_GROUPS:
            kinds.extend(KIND_GROUPS[name])
        elif name in ALL_KINDS:
            kinds.append(name)
        else:
            raise ValueError(
                f"unknown fault kind {raw.strip()!r}; valid groups: {', '.join(KIND_GROUPS)}; "
                f"valid kinds: {', '.join(ALL_KINDS)}"
            )
    return tuple(dict.fromkeys(kinds))


def _plan_from(values: Mapping[str, str | None], names: Mapping[str, str], *, off_when_idle: bool) -> FaultPlan | None:
    """A plan from text values (None: not given), errors naming the setting or parameter."""
    given = {name: value.strip() for name, value in values.items() if value is not None}
    rate_text, kinds_text = given.get("rate"), given.get("kinds")
    if not rate_text and kinds_text is None:
        return None
    rate = _number(rate_text or "0", names["rate"], "a number from 0 to 1", high=1.0)
    try:
        kinds = FaultPlan.parse_kinds(DEFAULT_GROUP if kinds_text is None else kinds_text)
    except ValueError as problem:
        raise ValueError(f"{names['kinds']}: {problem}") from None
    seed_text = given.get("seed") or str(DEFAULT_SEED)
    if not re.fullmatch(r"-?\d+", seed_text):
        raise ValueError(f"{names['seed']} must be an integer, got {seed_text!r}")
    slow = _number(given.get("slow_seconds") or str(DEFAULT_SLOW_SECONDS), names["slow_seconds"],
                   "a non-negative number of seconds")
    plan = FaultPlan(rate=rate, kinds=kinds, seed=int(seed_text), slow_seconds=slow)
    return None if off_when_idle and plan.idle else plan


def _number(text: str, name: str, expected: str, high: float = math.inf) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= high or math.isinf(value):
        raise ValueError(f"{name} must be {expected}, got {text!r}")
    return value


@dataclass
class FaultInjector:
    """Applies a plan (or none) to the requests a sandbox server answers; thread-safe.

    ``requests`` counts the requests to the vendor's API, ``injected`` the
    faults injected by kind: a transient fault once per request, a drift or
    bad-data kind once per event response it changed. Switching the plan
    restarts the draws from its seed and keeps the counts.
    """

    plan: FaultPlan | None = None
    injected: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.plan.seed if self.plan else DEFAULT_SEED)
        # Set while the server stops, so a slow answer stops waiting at once.
        self._stopping = threading.Event()

    def set_plan(self, plan: FaultPlan | None) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed if plan else DEFAULT_SEED)

    def interrupt(self) -> None:
        self._stopping.set()

    def resume(self) -> None:
        self._stopping.clear()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plan": self.plan.to_json() if self.plan else None,
                "requests": self.requests,
                "injected": dict(sorted(self.injected.items())),
            }

    def answer(
        self, app: SandboxApp, method: str, path: str, query: dict[str, list[str]],
        headers: Mapping[str, str], body: bytes,
    ) -> SandboxResponse:
        """The app's answer to one API request, with the plan's faults."""
        plan, kind, token = self._draw(app, method, path, headers)
        if plan is None:
            return app.handle(method, path, query, headers, body)
        if kind in STATUS_FAULTS or kind in THROTTLES:
            return _refusal(kind, app)
        if kind == EXPIRED_TOKEN and token is not None:
            return app.expire_token(token)
        if kind == SLOW and self._stopping.wait(plan.slow_seconds):
            return _error_response(app, STOPPING_STATUS, "the sandbox is stopping")
        response = app.handle(method, path, query, headers, body)
        target = app.fault_target
        if plan.persistent_kinds and target is not None and target.applies_to(method, path):
            response = self._spoil(response, target, plan.persistent_kinds)
        if kind == TRUNCATED:
            return _truncated(response)
        if kind == RESET:
            response.reset_midway = True
        return response

    def _draw(
        self, app: SandboxApp, method: str, path: str, headers: Mapping[str, str],
    ) -> tuple[FaultPlan | None, str | None, str | None]:
        """(plan, transient kind or None, the token an expired_token fault makes stale)."""
        with self._lock:
            self.requests += 1
            plan = self.plan
            if plan is None or plan.rate <= 0 or not plan.transient_kinds:
                return plan, None, None
            if self._rng.random() >= plan.rate:
                return plan, None, None
            token = app.presented_token(method, path, headers) if EXPIRED_TOKEN in plan.kinds else None
            choices = [kind for kind in plan.transient_kinds if kind != EXPIRED_TOKEN or token is not None]
            if not choices:
                return plan, None, None
            kind = choices[self._rng.randrange(len(choices))]
            self.injected[kind] += 1
            return plan, kind, token

    def _spoil(self, response: SandboxResponse, target: FaultTarget, kinds: tuple[str, ...]) -> SandboxResponse:
        if response.status != http.HTTPStatus.OK:
            return response
        spoil = _spoil_xml if target.xml else _spoil_json
        response, applied = spoil(response, target, kinds)
        if applied:
            with self._lock:
                self.injected.update(applied)
        return response


# ---- transient answers ------------------------------------------------------------------


def _refusal(kind: str, app: SandboxApp) -> SandboxResponse:
    """A status or throttle answer, in the vendor's format, without asking the app."""
    if kind in STATUS_FAULTS:
        status = STATUS_FAULTS[kind]
        return _error_response(app, status, http.HTTPStatus(status).phrase)
    response = _error_response(app, TOO_MANY_REQUESTS, "Too many requests, retry later")
    response.headers["Retry-After"] = _retry_after(kind)
    return response


def _retry_after(kind: str) -> str:
    if kind == THROTTLE_ZERO:
        return "0"
    if kind == THROTTLE_SECONDS:
        return str(RETRY_AFTER_SECONDS)
    # An HTTP date has whole seconds: the first one at least RETRY_AFTER_SECONDS away.
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=RETRY_AFTER_SECONDS)
    whole = moment.replace(microsecond=0) + dt.timedelta(seconds=1 if moment.microsecond else 0)
    return email.utils.format_datetime(whole, usegmt=True)


def _error_response(app: SandboxApp, status: int, message: str) -> SandboxResponse:
    target = app.fault_target
    if target is not None and target.xml:
        code = http.HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
        text = ('<?xml version="1.0" encoding="utf-8"?>\n<errors>\n  <error>\n'
                f"    <code>{code}</code>\n    <message>{message}</message>\n  </error>\n</errors>\n")
        return SandboxResponse.xml(text, status=status)
    return SandboxResponse.error(status, message)


def _truncated(response: SandboxResponse) -> SandboxResponse:
    """The same answer with about half its body: a matching Content-Length, a broken document."""
    payload = response.encoded()
    cut = min(len(payload) // 2, max(len(payload) - 1, 0))
    while cut > 0 and _parses(response, payload[:cut]):
        cut //= 2
    return SandboxResponse(response.status, payload[:cut], response.content_type, response.headers)


def _parses(response: SandboxResponse, data: bytes) -> bool:
    kind = response.content_type.split(";")[0].strip()
    try:
        if response.is_json:
            json.loads(data)
        elif kind.endswith("xml"):
            etree.fromstring(data, parser=etree.XMLParser(**SAFE_XML_PARSING))
        else:
            return False
    except (ValueError, etree.XMLSyntaxError):
        return False
    return True


# ---- drift and bad data: JSON -----------------------------------------------------------

Record = dict[str, Any]


def _spoil_json(
    response: SandboxResponse, target: FaultTarget, kinds: tuple[str, ...],
) -> tuple[SandboxResponse, list[str]]:
    if not response.is_json or response.is_stream:
        return response, []
    applied: list[str] = []

    def change(records: list[Any]) -> list[Any]:
        records = [dict(record) if isinstance(record, dict) else record for record in records]
        events = [record for record in records if isinstance(record, dict)]
        for kind in kinds:
            if kind in DRIFT_KINDS and events:
                for event in events:
                    _drift_json(kind, event, target)
                applied.append(kind)
            elif kind in _RECORD_BAD_DATA and events:
                _bad_json(kind, events[0], target)
                applied.append(kind)
        return records

    body = _replace_records(response.body, target.records, change)
    if body is _NOT_EVENTS:
        return response, []
    if BAD_PAGE in kinds:
        applied.append(BAD_PAGE)
        body = BAD_PAGE_BODY
    return SandboxResponse(response.status, body, response.content_type, response.headers), applied


_RECORD_BAD_DATA = (MISSING_KEY, NULL_KEY, BAD_DATE)
_NOT_EVENTS = object()


def _replace_records(
    body: Any, path: tuple[str | int, ...], change: Callable[[list[Any]], list[Any]],
) -> Any:
    """``body`` with the records at ``path`` changed, containers on the way copied (the app may
    share them); ``_NOT_EVENTS`` when the body has no records there (an error answer)."""
    if not path:
        if isinstance(body, list):
            return change(body)
        if isinstance(body, dict):
            return change([body])[0]
        return _NOT_EVENTS
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        if not isinstance(body, list) or not -len(body) <= step < len(body):
            return _NOT_EVENTS
    elif not isinstance(body, dict) or step not in body:
        return _NOT_EVENTS
    inner = _replace_records(body[step], rest, change)  # type: ignore[index]
    if inner is _NOT_EVENTS:
        return _NOT_EVENTS
    copy = list(body) if isinstance(body, list) else dict(body)
    copy[step] = inner  # type: ignore[index]
    return copy


def _drift_json(kind: str, event: Record, target: FaultTarget) -> None:
    if kind == DRIFT_NEW_FIELD:
        event[target.new_field] = NEW_FIELD_VALUE
    elif kind == DRIFT_TYPE_CHANGE and target.retyped_field in event:
        event[target.retyped_field] = {RETYPED_CHILD: event[target.retyped_field]}
    elif kind == DRIFT_FIELD_GONE:
        event.pop(target.gone_field, None)


def _bad_json(kind: str, event: Record, target: FaultTarget) -> None:
    if kind == MISSING_KEY:
        event.pop(target.key, None)
    elif kind == NULL_KEY:
        event[target.key] = None
    elif kind == BAD_DATE:
        event[target.date] = BAD_DATE_VALUE


# ---- drift and bad data: XML ------------------------------------------------------------


def _spoil_xml(
    response: SandboxResponse, target: FaultTarget, kinds: tuple[str, ...],
) -> tuple[SandboxResponse, list[str]]:
    if response.content_type.split(";")[0].strip() != XML_CONTENT_TYPE.split(";")[0]:
        return response, []
    streamed = response.is_stream
    data = response.encoded()  # a stream is collected whole: sandbox scales are small
    applied: list[str] = []
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(**SAFE_XML_PARSING))
    except etree.XMLSyntaxError:
        root = None
    root_tag, event_tag = target.records
    if root is None or root.tag != root_tag:
        return _same_body(response, data, streamed), []
    events = [child for child in root if child.tag == event_tag]
    if events:
        for kind in kinds:
            if kind in DRIFT_KINDS:
                for event in events:
                    _drift_xml(kind, event, target)
                applied.append(kind)
            elif kind in _RECORD_BAD_DATA:
                _bad_xml(kind, events[0], target)
                applied.append(kind)
        if applied:
            data = _serialize(root, data)
    if BAD_PAGE in kinds:
        applied.append(BAD_PAGE)
        data = BAD_PAGE_BODY
    return _same_body(response, data, streamed), applied


def _same_body(response: SandboxResponse, data: bytes, streamed: bool) -> SandboxResponse:
    """The response with ``data`` as its body, still streamed (chunked) if it was."""
    body: Any = iter((data,)) if streamed else data
    return SandboxResponse(response.status, body, response.content_type, response.headers)


def _serialize(root: etree._Element, original: bytes) -> bytes:
    """The changed tree between the original's prolog (declaration) and its trailing bytes."""
    start = original.index(b"<" + root.tag.encode())
    end = original.rindex(b">") + 1
    return original[:start] + etree.tostring(root, encoding="utf-8") + original[end:]


def _drift_xml(kind: str, event: etree._Element, target: FaultTarget) -> None:
    if kind == DRIFT_NEW_FIELD:
        _append_child(event, target.new_field, NEW_FIELD_VALUE)
    elif kind == DRIFT_TYPE_CHANGE:
        element = event.find(target.retyped_field)
        if element is not None and len(element) == 0:
            nested = etree.SubElement(element, RETYPED_CHILD)
            nested.text, element.text = element.text, None
    elif kind == DRIFT_FIELD_GONE:
        _remove_child(event, target.gone_field)


def _bad_xml(kind: str, event: etree._Element, target: FaultTarget) -> None:
    if kind == MISSING_KEY:
        _remove_child(event, target.key)
    elif kind == NULL_KEY:
        element = event.find(target.key)
        if element is not None:
            for child in list(element):
                element.remove(child)
            element.text = ""
    elif kind == BAD_DATE:
        element = event.find(target.date)
        if element is not None:
            element.text = BAD_DATE_VALUE


def _append_child(parent: etree._Element, tag: str, text: str) -> None:
    """A new last child, indented like its siblings."""
    child = etree.SubElement(parent, tag)
    child.text = text
    siblings = list(parent)
    if len(siblings) > 1:
        previous = siblings[-2]
        child.tail, previous.tail = previous.tail, siblings[-3].tail if len(siblings) > 2 else parent.text


def _remove_child(parent: etree._Element, tag: str) -> None:
    element = parent.find(tag)
    if element is None:
        return
    previous = element.getprevious()
    # The removed element's tail indents what follows; the last child's tail closes the parent.
    if previous is not None and element.getnext() is None:
        previous.tail = element.tail
    elif previous is None:
        parent.text = element.tail
    parent.remove(element)

"""BRP events XML API sandbox (``vendor-docs/brp-events-xml-api.txt``).

Serves ``GET /events.xml`` (and the same at ``/events``) below the base URL,
over deterministic synthetic data (a function of ``seed``, ``scale``,
``start_date`` and ``events``) and a simulated clock. BRP is a Swedish booking
system for gyms, pools and courses: events are single classes or weekly
courses at a business unit, booked by people. The response is streamed with
``Transfer-Encoding: chunked`` in batches of events, so that tens of thousands
of events with their participants are never held whole in memory.

Every element of the document is served, in the document's order: ``id, name,
code, productid, description, lastupdate, productdescription,
numberofoccasions, time, startdate, enddate, publishstart, publishend,
bookableslots, filledslots, registered, bookableearliest, bookablelatest,
businessunit, orderid, participants``.

Assumptions where the document is silent:

- Authentication: the ``apikey`` query parameter. A missing (or empty) key
  answers HTTP 401 ``ApiKeyMissing``, an unknown key 403 ``ApiKeyInvalid``.
  Unknown paths answer 404 ``NotFound`` and another method than GET on the
  events path 405 ``MethodNotAllowed`` (with ``Allow: GET``), both before the
  key is checked. Errors are XML: ``<errors><error><code>…</code>
  <message>…</message></error></errors>``, one ``<error>`` per problem; the
  key is never echoed.
- Parameters: invalid values answer 400 ``InvalidParameter``, one
  ``<error>`` per invalid parameter, each message naming the parameter and the
  value given. Booleans are ``true``/``false`` in any case, or ``1``/``0``;
  dates are ``YYYY-MM-DD``; ids are positive integers and an ID-list is ids
  separated by commas. A parameter given with an empty value counts as not
  given; a parameter given twice takes its first value, except the ID-list,
  whose values are all taken. Unknown parameters are ignored. ``businessunitid``
  (the document's example spelling) is read as ``businessunitids``. Ids that
  exist nowhere are not errors: they match nothing.
- Filters combine with AND. ``ongoingdate`` D keeps startdate ≤ D ≤ enddate,
  ``startdate`` events starting that day or later, ``enddate`` events ending
  that day or earlier, ``publishstartdate``/``publishenddate`` compare the local
  date of ``publishstart``/``publishend``. When none of these five is given,
  only events whose enddate is on or after today's date in Stockholm (by the
  simulated clock) are returned.
- ``bookablefrominternet`` defaults to true, which keeps only the events
  bookable from the internet (about 85%); false lifts that restriction (it
  does not select the events that are not bookable from the internet).
- ``includebooking=true`` enforces the booking terms for an anonymous API
  client: only events open for booking right now (``bookableearliest`` ≤ now ≤
  ``bookablelatest``) are returned. Nobody is logged on, so ``registered`` is
  always false.
- ``includeparticipants=true`` adds ``<participants>`` with one
  ``<participant>`` per current booking, in booking order, or an empty
  ``<participants/>``; without it the element is left out. ``filledslots`` is
  the number of current bookings and never exceeds ``bookableslots``.
- ``orderid`` is present on about 30% of events and left out otherwise.
- Events are ordered by startdate, then start time (events without a time
  first), then id. The XML is indented as the document's example.
- Times (``lastupdate``, ``publishstart``, ``publishend`` and the timepoints'
  ``datetime``/``time``) are local Europe/Stockholm wall-clock time without an
  offset, ``YYYY-MM-DD HH:MM`` (CET/CEST, so the same instant reads an hour
  apart across a daylight saving change). A timepoint's ``timestamp`` is the
  Unix time of the true instant. ``time`` is the start time ``HH:MM``, empty
  (``<time></time>``) for the ~5% of events without a time; booking for those
  closes at 00:00 local on the start date. Times of day the data chooses
  (06:00–21:00 starts, booking opening 06:00–20:00, closing at the start or
  1–2 hours before it, publishing ending 23:59) never fall in the missing or
  repeated hour of a daylight saving change; ``lastupdate`` and
  ``publishstart`` follow real moments and may.
- ``lastupdate`` is the event's creation time, and moves only when the event
  itself is modified (renamed, time moved or capacity changed), not when
  people book or cancel. ``publishstart`` is the creation time rounded up to
  the quarter hour (before booking opens); ``publishend`` is the end date at
  23:59. Booking opens 7–30 days before the start date at a local time of day.
- About 80% of events are single classes (startdate = enddate, one occasion,
  10–30 slots; pools 8–40) and 20% weekly courses of 6–12 occasions (enddate =
  startdate + 7·(n−1) days, 8–40 slots). Events start between ``start_date``
  − 120 and + 90 days. Codes read like ``2026SWIM012``: start year, product
  code and a number counted per year and product.
- Business units (5–8), products (each with 1–2 product label ids) and
  resources (rooms, lanes, courts, walls of a business unit) depend on the
  seed only. Each event books 1–2 resources of its kind at its business unit;
  resources are not in the response, only filterable.
- People come from the shared ``PersonPool``: ``personid`` is
  ``PERSON_ID_BASE`` + the pool index; a person books an event at most once.
  ``eventbookingid`` values are unique and grow with the booking time. Only
  events whose booking has opened have participants: started ones are 40–100%
  full, open future ones partly filled; some are full.
- The simulated clock starts at 06:00 UTC of ``start_date``. Each advanced day
  creates events (starting 20–60 days ahead; ``lastupdate`` is the creation
  time; booking opens the next day at the earliest), modifies a few future events (rename, start time moved by up to two
  hours, or capacity changed, never below the bookings; only events starting
  two days or more ahead and not already changed that day), books people on
  events open for booking and not started (never above capacity) and cancels
  about 2% of the bookings of events not started (cancellations leave no
  trace). Each day's draws come from its own seed, so advancing 2 days equals
  advancing 1 day twice.

Sparse profile (``profile="sparse"``, see ``sandboxes.server.SandboxProfile``):
the document marks no element required, so the sandbox keeps what an event
cannot do without and thins the rest (``EVENT_SHAPE``, ``PARTICIPANT_SHAPE``):

- Always sent: ``<id>``, ``<startdate>`` and ``<lastupdate>`` (the only
  change stamp, so a client can read incrementally); a participant's
  ``<personid>`` and ``<eventbookingid>``. The event of a participant is the
  one it is listed in.
- Every other element is left out, sent empty (``<name></name>``, nested
  ones too) or kept as drawn per event (per booking for participants), in
  the document's order.
- About one event in four lists no participants (``<participants/>``) and
  says ``<filledslots>0</filledslots>`` when it sends that element.

Faults (``sandboxes.faults``): drift and bad data apply to the events
document (both paths); the whole stream is collected, changed with lxml and
sent again as one chunk (an empty element may come back as ``<x/>``). The key
is ``<id>``; the date is ``<lastupdate>``, the source's cursor. Drift adds a
``<promocode>`` element, nests the text of ``<registered>`` in a ``<value>``
element and leaves out ``<description>``; the source needs none of them.
Status faults answer the XML error document above
(codes such as ``ServiceUnavailable``). BRP uses a static ``apikey``:
``expired_token`` never applies.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import itertools
import random
import re
import secrets
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sandboxes.faults import FaultTarget
from sandboxes.server import (
    DROP,
    FULL,
    KEEP,
    PersonPool,
    RecordShape,
    SandboxApp,
    SandboxResponse,
    synchronized,
)

# Drawn once per process, so no usable key is a constant in code: tests read it
# from here, clients from `settings()`, and `turnout demo` may pass its own.
DEMO_API_KEY = f"brp-sandbox-{secrets.token_urlsafe(18)}"
EVENTS_PATH = "/events.xml"
EVENTS_PATHS = (EVENTS_PATH, "/events")
TIMEZONE = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class ScalePreset:
    events: int
    people: int
    new_events_per_day: tuple[int, int]
    modified_events_per_day: tuple[int, int]
    # Events start from this many days before the start date: medium and large hold
    # years of history, as an organisation's first load does, and a day then adds and
    # changes about what an average day of that history holds, at most a few times more.
    history_days: int = 120


SCALES: dict[str, ScalePreset] = {
    "small": ScalePreset(events=80, people=300, new_events_per_day=(1, 2), modified_events_per_day=(1, 3)),
    "medium": ScalePreset(
        events=600, people=20_000, new_events_per_day=(0, 2), modified_events_per_day=(1, 5), history_days=1825,
    ),
    "large": ScalePreset(
        events=6_000, people=150_000, new_events_per_day=(3, 9), modified_events_per_day=(10, 30), history_days=1825,
    ),
}

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# Events are rendered (under the lock) and sent in batches of this many.
BATCH_SIZE = 200

# Events start between these many days before and after the start date at scale
# small; the other scales reach further back (ScalePreset.history_days).
EVENT_WINDOW_DAYS = (-120, 90)
NEW_EVENT_START_DAYS = (20, 60)
COURSE_RATE = 0.2
COURSE_OCCASIONS = (6, 12)
NO_TIME_RATE = 0.05
# Start times: 06:00–21:00 local, in 15-minute steps.
FIRST_START_MINUTE = 6 * 60
LAST_START_MINUTE = 21 * 60
STEP_MINUTES = 15
CLASS_SLOTS = (10, 30)
LARGE_SLOTS = (8, 40)  # pools and courses
BOOKING_LEAD_DAYS = (7, 30)
# Booking opens at a local time of day in this range (minutes).
BOOKING_OPENS_MINUTES = (6 * 60, 20 * 60)
# Booking closes this many hours before the start.
BOOKING_CLOSES_HOURS = (0, 0, 1, 2)
# Events are created this long (seconds) before booking opens.
CREATION_LEAD_SECONDS = (86_400, 45 * 86_400)
# Events created before the clock started were created at least this long before it.
CREATED_BEFORE_NOW_SECONDS = (3_600, 14 * 86_400)
PUBLISH_END_MINUTE = 23 * 60 + 59
INTERNET_RATE = 0.85
ORDER_RATE = 0.3
EARLIER_MODIFICATION_RATE = 0.2
TWO_RESOURCES_RATE = 0.35

# Share of slots filled: started events, and future events open for booking.
FULL_RATE_STARTED = 0.3
FILL_STARTED = (0.4, 1.0)
FULL_RATE_OPEN = 0.08
FILL_OPEN = (0.05, 0.7)
DAILY_BOOKINGS_PER_OPEN_EVENT = (0, 3)
DAILY_CANCEL_RATE = 0.02
# Modifications: only events starting at least this long after the clock.
MODIFY_MIN_LEAD_SECONDS = 2 * 86_400
MOVE_MINUTES = (15, 120)
CAPACITY_CHANGES = (-4, -3, -2, -1, 1, 2, 3, 4, 5, 6)
RENAME_TAGS = ("New instructor", "Moved", "Extra places", "Updated", "Ny tid")

EVENT_ID_BASE = 1_201
PERSON_ID_BASE = 880_000
BOOKING_ID_BASE = 330_001
ORDER_ID_BASE = 105

# What the sparse profile always sends of an event and a participant; see the module docstring.
EVENT_SHAPE = RecordShape("event", key=("id",), required={"startdate", "lastupdate"})
PARTICIPANT_SHAPE = RecordShape("participant", key=("eventbookingid",), required={"personid"})

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
ID_PATTERN = re.compile(r"[1-9]\d{0,17}")
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
MAX_ECHOED_VALUE = 60

# ---- catalogue -------------------------------------------------------------------
# Resource kinds: what a business unit has, what a product needs.
POOL, STUDIO, COURT, WALL = "pool", "studio", "court", "wall"
RESOURCE_NAMES = {
    POOL: ("Lane 1", "Lane 2", "Lane 3", "Lane 4", "Teaching pool"),
    STUDIO: ("Studio A", "Studio B", "Spinning room", "Hall 2"),
    COURT: ("Court 1", "Court 2", "Court 3"),
    WALL: ("Bouldering wall", "Lead wall"),
}
# (name, resource kinds)
BUSINESS_UNIT_NAMES = (
    ("Main Street Gym", (STUDIO, WALL)),
    ("Central Pool", (POOL, STUDIO)),
    ("Eastside Sports Hall", (COURT, STUDIO)),
    ("Åkeshov Swim Centre", (POOL,)),
    ("Harbour Climbing Hall", (WALL, STUDIO)),
    ("Northgate Tennis & Padel", (COURT,)),
    ("Lakeside Fitness", (STUDIO, POOL)),
    ("Söder Sports Centre", (COURT, POOL, STUDIO)),
)
BUSINESS_UNITS = (5, 8)
# (description, code, kind, class names, course names)
PRODUCT_CATALOGUE = (
    ("Swimming", "SWIM", POOL, ("Lap swimming", "Early swim"),
     ("Swimming for toddlers", "Crawl technique", "Swim school – level 2")),
    ("Aqua fit", "AQUA", POOL, ("Aqua fit", "Deep water aqua"), ("Aqua fit for seniors",)),
    ("Yoga", "YOGA", STUDIO, ("Yoga & Mindfulness", "Yin yoga", "Power yoga"), ("Yoga for beginners",)),
    ("Spinning", "SPIN", STUDIO, ("Spinning 45", "Spinning intervals"), ("Spinning <60 min> challenge",)),
    ("Pilates", "PILA", STUDIO, ("Pilates", "Core & Pilates"), ("Pilates foundations",)),
    ("Body pump", "PUMP", STUDIO, ("Body pump", "Pump & Stretch"), ()),
    ("Tennis", "TENN", COURT, ("Tennis drop-in", "Doubles play"), ("Tennis school – juniors", "Tennis for adults")),
    ("Padel", "PADL", COURT, ("Padel americano",), ("Padel for beginners",)),
    ("Badminton", "BADM", COURT, ("Badminton drop-in",), ("Badminton course",)),
    ("Climbing", "CLIM", WALL, ("Bouldering night", "Open climbing"), ("Climbing for beginners", "Lead climbing")),
)
PRODUCT_ID_BASE = 575
# (id, meaning) of product labels; meanings are not served, they only explain the ids.
PRODUCT_LABELS = (
    (56, "Water"), (57, "Kids"), (58, "Adults"), (59, "Mind & body"), (60, "Cardio"),
    (61, "Racket sports"), (62, "Beginners"), (63, "Strength"),
)
DESCRIPTIONS = {
    False: "{name} at {unit}: a {minutes}-minute {product} class. Drop in, all levels welcome.",
    True: "{name} at {unit}: {occasions} weekly {product} sessions. Book once for the whole course.",
}
CLASS_MINUTES = (45, 55, 60)


class BusinessUnit(NamedTuple):
    id: int
    name: str
    kinds: tuple[str, ...]


class Product(NamedTuple):
    id: int
    description: str
    code: str
    kind: str
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    course_names: tuple[str, ...]


class Resource(NamedTuple):
    id: int
    name: str
    business_unit: int  # BusinessUnit.id
    kind: str


class Event:
    """One event; times are Unix seconds (ints are far smaller than datetimes).

    ``persons`` and ``bookings`` are parallel arrays: pool index and
    eventbookingid of each current booking, in booking order.
    """

    __slots__ = (
        "id", "name", "base_name", "code", "product", "description", "created", "lastupdate", "occasions",
        "startdate", "enddate", "minutes", "start", "publish_start", "publish_end", "slots", "unit",
        "resources", "internet", "orderid", "bookable_earliest", "closes_hours", "bookable_latest",
        "persons", "bookings",
    )

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.persons = array("l")
        self.bookings = array("q")

    @property
    def course(self) -> bool:
        return self.occasions > 1

    @property
    def filled(self) -> int:
        return len(self.persons)

    @property
    def has_time(self) -> bool:
        return self.minutes >= 0

    def sort_key(self) -> tuple[int, int, int]:
        return self.startdate.toordinal(), self.minutes, self.id

    def open_for_booking(self, now: int) -> bool:
        return self.bookable_earliest <= now <= self.bookable_latest


class ApiError(Exception):
    """One or more XML errors answered with one HTTP status."""

    def __init__(self, status: int, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in errors))
        self.status = status
        self.errors = tuple(errors)

    def response(self, headers: Mapping[str, str] | None = None) -> SandboxResponse:
        response = SandboxResponse.xml(_errors_xml(self.errors), status=self.status)
        response.headers.update(headers or {})
        return response


class Query(NamedTuple):
    """The parsed parameters of one events request."""

    include_booking: bool
    include_participants: bool
    business_units: frozenset[int] | None
    product_label: int | None
    internet_only: bool
    resource: int | None
    ongoing: dt.date | None
    starts_from: dt.date | None
    ends_by: dt.date | None
    publish_from: dt.date | None
    publish_until: dt.date | None

    @property
    def has_date_filter(self) -> bool:
        return any(d is not None for d in (self.ongoing, self.starts_from, self.ends_by,
                                          self.publish_from, self.publish_until))


# --------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _errors_xml(errors: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"  <error>\n    <code>{_esc(code)}</code>\n    <message>{_esc(message)}</message>\n  </error>\n"
        for code, message in errors
    )
    return f"{XML_DECLARATION}<errors>\n{items}</errors>\n"


def _instant(day: dt.date, minutes: int) -> int:
    """Unix seconds of a local Stockholm wall-clock time."""
    local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=STOCKHOLM)
    return int(local.timestamp())


def _local(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, STOCKHOLM)


def _local_text(epoch: int) -> str:
    return _local(epoch).strftime("%Y-%m-%d %H:%M")


def _ceil_quarter(epoch: int) -> int:
    step = STEP_MINUTES * 60
    return -(-epoch // step) * step


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _echo(value: str) -> str:
    return value if len(value) <= MAX_ECHOED_VALUE else value[:MAX_ECHOED_VALUE] + "…"


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    for value in query.get(name, []):
        if value.strip():
            return value.strip()
    return None


def _timepoint(epoch: int) -> str:
    local = _local(epoch)
    return (
        "\n      <timepoint>\n"
        f"        <timestamp>{epoch}</timestamp>\n"
        f"        <datetime>{local:%Y-%m-%d %H:%M}</datetime>\n"
        f"        <date>{local:%Y-%m-%d}</date>\n"
        f"        <time>{local:%H:%M}</time>\n"
        "      </timepoint>\n    "
    )


def _sparse_element(fate: str, tag: str, content: str, indent: str) -> str:
    """One element as the sparse profile sends it: kept, empty, or left out."""
    if fate == KEEP:
        return f"{indent}<{tag}>{content}</{tag}>\n"
    return "" if fate == DROP else f"{indent}<{tag}></{tag}>\n"


def _scaled(bounds: tuple[int, int], factor: float) -> tuple[int, int]:
    low, high = (round(b * factor) for b in bounds)
    return low, max(high, low)


# --------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------


class BrpSandbox(SandboxApp):
    """The BRP events XML API over synthetic data; see the module docstring.

    Test hooks besides HTTP: ``requests_served`` counts requests to the API
    (the control routes never reach the app); ``event_ids()`` lists every
    event; ``fail_next(status, code, message)`` makes the next API request
    answer that XML error; ``break_next()`` makes the next events response
    stop in the middle of an event (a cleanly ended body that is not
    well-formed XML). ``business_units``, ``products``, ``resources`` and
    ``events`` expose the data the filters work on.
    """

    vendor = "brp"
    title = "BRP"
    fault_target = FaultTarget(
        paths=tuple(re.escape(path) for path in EVENTS_PATHS),
        records=("events", "event"),
        key="id",
        date="lastupdate",
        new_field="promocode",
        retyped_field="registered",
        gone_field="description",
        xml=True,
    )

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str = "small",
        start_date: dt.date | None = None,
        events: int | None = None,
        api_key: str = DEMO_API_KEY,
        profile: str = FULL,
    ) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        if events is not None and events < 0:
            raise ValueError("events must not be negative")
        super().__init__(seed=seed, scale=scale, start_date=start_date, profile=profile)
        self.preset = SCALES[scale]
        self.event_count = self.preset.events if events is None else events
        # New and modified events per day follow the event count.
        factor = self.event_count / self.preset.events
        self._new_per_day = _scaled(self.preset.new_events_per_day, factor)
        self._modified_per_day = _scaled(self.preset.modified_events_per_day, factor)
        self.api_key = api_key
        self.requests_served = 0
        self._failure: tuple[int, str, str] | None = None
        self._break = 0
        self.people = PersonPool(seed, self.preset.people)
        self._names: list[tuple[str, str] | None] = [None] * len(self.people)
        self.events: list[Event] = []  # in id (creation) order
        self._ordered: list[Event] | None = None  # response order, rebuilt after changes
        self._codes: dict[tuple[int, str], int] = {}
        self._texts: dict[str, str] = {}
        self._event_ids = itertools.count(EVENT_ID_BASE)
        self._booking_ids = itertools.count(BOOKING_ID_BASE)
        self._order_ids = itertools.count(ORDER_ID_BASE)
        self._build_catalogue()
        self._build()

    # ---- public hooks ---------------------------------------------------

    def settings(self, base_url: str) -> dict[str, str]:
        earliest = self.start_date - dt.timedelta(days=self.preset.history_days)
        return {
            "SOURCES__BRP__BASE_URL": base_url,
            "SOURCES__BRP__API_KEY": self.api_key,
            "SOURCES__BRP__START_DATE": earliest.isoformat(),
        }

    @synchronized
    def event_ids(self) -> list[str]:
        """Every event id, in id (creation) order."""
        return [str(event.id) for event in self.events]

    @synchronized
    def fail_next(self, status: int, code: str, message: str) -> None:
        """The next API request answers this XML error with this HTTP status."""
        self._failure = (status, code, message)

    @synchronized
    def break_next(self, times: int = 1) -> None:
        """The next `times` events responses stop in the middle of an event, then end cleanly."""
        self._break = times

    @synchronized
    def participant_count(self) -> int:
        return sum(event.filled for event in self.events)

    @property
    def today_local(self) -> dt.date:
        """The simulated current date in Stockholm."""
        return self.now.astimezone(STOCKHOLM).date()

    # ---- building -------------------------------------------------------

    def _build_catalogue(self) -> None:
        """Business units, products and resources: a function of the seed only."""
        rng = random.Random(f"brp:{self.seed}:catalogue")
        count = rng.randint(*BUSINESS_UNITS)
        # The first three cover every kind of resource; the rest are drawn.
        chosen = list(BUSINESS_UNIT_NAMES[:3]) + rng.sample(BUSINESS_UNIT_NAMES[3:], count - 3)
        unit_ids = sorted(rng.sample(range(2, 60), count))
        self.business_units = tuple(
            BusinessUnit(id=unit_id, name=name, kinds=kinds)
            for unit_id, (name, kinds) in zip(unit_ids, chosen, strict=True)
        )
        label_ids = [label for label, _ in PRODUCT_LABELS]
        products = []
        for offset, (description, code, kind, class_names, course_names) in enumerate(PRODUCT_CATALOGUE):
            labels = tuple(sorted(rng.sample(label_ids, rng.randint(1, 2))))
            products.append(Product(
                id=PRODUCT_ID_BASE + 3 * offset + rng.randrange(3), description=description, code=code,
                kind=kind, labels=labels, class_names=class_names, course_names=course_names or class_names,
            ))
        self.products: dict[int, Product] = {p.id: p for p in products}
        resources = []
        resource_id = 12
        for unit in self.business_units:
            for kind in unit.kinds:
                names = RESOURCE_NAMES[kind]
                for name in names[: rng.randint(2, len(names))]:
                    resources.append(Resource(id=resource_id, name=name, business_unit=unit.id, kind=kind))
                    resource_id += rng.randint(1, 4)
        self.resources = tuple(resources)
        self._products_by_kind = {
            kind: [p for p in products if p.kind == kind] for kind in RESOURCE_NAMES
        }
        self._resources_by_place = {
            (unit.id, kind): [r.id for r in resources if r.business_unit == unit.id and r.kind == kind]
            for unit in self.business_units for kind in unit.kinds
        }

    def _build(self) -> None:
        rng = random.Random(f"brp:{self.seed}:{self.scale}:{self.event_count}:build")
        now = _epoch(self.now)
        low, high = -self.preset.history_days, EVENT_WINDOW_DAYS[1]
        drafts = []
        for _ in range(self.event_count):
            startdate = self.start_date + dt.timedelta(days=rng.randint(low, high))
            event = self._draw_event(rng, startdate)
            lead = rng.randint(*CREATION_LEAD_SECONDS)
            created = event.bookable_earliest - lead
            if created > now - CREATED_BEFORE_NOW_SECONDS[0]:
                created = now - rng.randint(*CREATED_BEFORE_NOW_SECONDS)
            self._set_created(event, created)
            if rng.random() < EARLIER_MODIFICATION_RATE:
                latest = min(now, event.start)
                if latest > created:
                    event.lastupdate = rng.randint(created, latest)
            drafts.append(event)
        # Ids, order ids and codes are handed out in creation order.
        drafts.sort(key=lambda e: e.created)
        for event in drafts:
            self._register(rng, event)
        # Bookings of events whose booking has opened, numbered in time order.
        pending: list[tuple[int, int, int]] = []  # (moment, event position, person)
        population = range(len(self.people))
        for position, event in enumerate(self.events):
            if event.bookable_earliest > now:
                continue
            started = event.start <= now
            full_rate, fill = (FULL_RATE_STARTED, FILL_STARTED) if started else (FULL_RATE_OPEN, FILL_OPEN)
            share = 1.0 if rng.random() < full_rate else rng.uniform(*fill)
            count = min(event.slots, round(event.slots * share), len(population))
            closes = min(event.bookable_latest, now)
            for person in rng.sample(population, count):
                pending.append((rng.randint(event.bookable_earliest, closes), position, person))
        self._book(pending)
        self._ordered = None

    def _draw_event(self, rng: random.Random, startdate: dt.date) -> Event:
        unit = rng.choice(self.business_units)
        kind = rng.choice(unit.kinds)
        product = rng.choice(self._products_by_kind[kind])
        course = rng.random() < COURSE_RATE
        occasions = rng.randint(*COURSE_OCCASIONS) if course else 1
        name = rng.choice(product.course_names if course else product.class_names)
        if rng.random() < NO_TIME_RATE:
            minutes = -1
        else:
            steps = (LAST_START_MINUTE - FIRST_START_MINUTE) // STEP_MINUTES
            minutes = FIRST_START_MINUTE + STEP_MINUTES * rng.randint(0, steps)
        slots = rng.randint(*(LARGE_SLOTS if course or kind == POOL else CLASS_SLOTS))
        lead_days = rng.randint(*BOOKING_LEAD_DAYS)
        open_low, open_high = BOOKING_OPENS_MINUTES
        opens_at = open_low + STEP_MINUTES * rng.randint(0, (open_high - open_low) // STEP_MINUTES)
        closes_hours = rng.choice(BOOKING_CLOSES_HOURS) if minutes >= 0 else 0
        places = self._resources_by_place[(unit.id, kind)]
        resources = tuple(sorted(rng.sample(places, 2 if rng.random() < TWO_RESOURCES_RATE and len(places) > 1
                                            else 1)))
        description = DESCRIPTIONS[course].format(
            name=name, unit=unit.name, minutes=rng.choice(CLASS_MINUTES), occasions=occasions,
            product=product.description.lower(),
        )
        description = self._texts.setdefault(description, description)  # shared, not one per event
        event = Event(
            id=0, name=name, base_name=name, code="", product=product, description=description,
            created=0, lastupdate=0, occasions=occasions, startdate=startdate,
            enddate=startdate + dt.timedelta(days=7 * (occasions - 1)), minutes=minutes, start=0,
            publish_start=0, publish_end=0, slots=slots, unit=unit, resources=resources,
            internet=rng.random() < INTERNET_RATE, orderid=rng.random() < ORDER_RATE,
            bookable_earliest=_instant(startdate - dt.timedelta(days=lead_days), opens_at),
            closes_hours=closes_hours, bookable_latest=0,
        )
        event.publish_end = _instant(event.enddate, PUBLISH_END_MINUTE)
        self._set_start(event, minutes)
        return event

    @staticmethod
    def _set_start(event: Event, minutes: int) -> None:
        """Start time (minutes past local midnight, -1 for none) and the booking close it implies."""
        event.minutes = minutes
        event.start = _instant(event.startdate, max(minutes, 0))
        event.bookable_latest = _instant(event.startdate, max(minutes, 0) - 60 * event.closes_hours)

    @staticmethod
    def _set_created(event: Event, created: int) -> None:
        event.created = event.lastupdate = created
        event.publish_start = min(_ceil_quarter(created), event.bookable_earliest)

    def _register(self, rng: random.Random, event: Event) -> None:
        """Give a drawn event its id, order id and code, and add it."""
        event.id = next(self._event_ids)
        event.orderid = next(self._order_ids) if event.orderid else None
        key = (event.startdate.year, event.product.code)
        number = self._codes[key] = self._codes.get(key, 0) + 1
        event.code = f"{event.startdate.year}{event.product.code}{number:03d}"
        self.events.append(event)

    def _book(self, pending: list[tuple[int, int, int]]) -> int:
        """Add bookings (moment, event position, person) with ids in time order."""
        pending.sort()
        events = self.events
        for _, position, person in pending:
            event = events[position]
            event.persons.append(person)
            event.bookings.append(next(self._booking_ids))
        return len(pending)

    def _names_of(self, person: int) -> tuple[str, str]:
        names = self._names[person]
        if names is None:
            row = self.people[person]
            names = self._names[person] = (_esc(row.first_name), _esc(row.last_name))
        return names

    def _ordered_events(self) -> list[Event]:
        if self._ordered is None:
            self._ordered = sorted(self.events, key=Event.sort_key)
        return self._ordered

    # ---- simulated time -------------------------------------------------

    def _advance_one_day(self) -> dict[str, int]:
        rng = random.Random(f"brp:{self.seed}:{self.scale}:{self.event_count}:day:{self.today.isoformat()}")
        now = _epoch(self.now)
        since = now - 86_400
        counts = {
            "new_events": self._create_events(rng, since, now),
            "modified_events": self._modify_events(rng, since, now),
            "cancelled_bookings": self._cancel_bookings(rng, now),
        }
        counts["new_bookings"] = self._add_bookings(rng, since, now)
        self._ordered = None
        return counts

    def _create_events(self, rng: random.Random, since: int, now: int) -> int:
        count = rng.randint(*self._new_per_day)
        today = self.today_local
        drafts = []
        for _ in range(count):
            startdate = today + dt.timedelta(days=rng.randint(*NEW_EVENT_START_DAYS))
            event = self._draw_event(rng, startdate)
            # Booking opens after the event is created: at the latest the day before it starts.
            latest_open = startdate - dt.timedelta(days=1)
            opens = _local(event.bookable_earliest)
            if opens.date() <= today:
                opens_minutes = opens.hour * 60 + opens.minute
                event.bookable_earliest = _instant(min(today + dt.timedelta(days=1), latest_open), opens_minutes)
            self._set_created(event, rng.randint(since + 1, now))
            drafts.append(event)
        drafts.sort(key=lambda e: e.created)
        for event in drafts:
            self._register(rng, event)
        return count

    def _modify_events(self, rng: random.Random, since: int, now: int) -> int:
        # Events created or modified today are left alone, so that a modification
        # always moves lastupdate to a later minute.
        future = [e for e in self.events if e.start > now + MODIFY_MIN_LEAD_SECONDS and e.lastupdate <= since]
        count = min(rng.randint(*self._modified_per_day), len(future))
        for event in rng.sample(future, count):
            change = rng.randrange(3)
            if change == 0:
                event.name = f"{event.base_name} ({rng.choice(RENAME_TAGS)})"
            elif change == 1:
                self._move_time(rng, event)
            else:
                delta = rng.choice(CAPACITY_CHANGES)
                event.slots = max(event.slots + delta, event.filled, 1)
            event.lastupdate = rng.randint(since + 60, now)
        return count

    def _move_time(self, rng: random.Random, event: Event) -> None:
        if not event.has_time:
            minutes = FIRST_START_MINUTE + STEP_MINUTES * rng.randint(0, 40)
            event.closes_hours = rng.choice(BOOKING_CLOSES_HOURS)
        else:
            shift = STEP_MINUTES * rng.randint(MOVE_MINUTES[0] // STEP_MINUTES, MOVE_MINUTES[1] // STEP_MINUTES)
            minutes = event.minutes + shift * rng.choice((-1, 1))
            if not FIRST_START_MINUTE <= minutes <= LAST_START_MINUTE:
                minutes = event.minutes - (minutes - event.minutes)
        self._set_start(event, minutes)

    def _cancel_bookings(self, rng: random.Random, now: int) -> int:
        cancelled = 0
        for event in self.events:
            if event.start <= now or not event.persons:
                continue
            keep = [i for i in range(event.filled) if rng.random() >= DAILY_CANCEL_RATE]
            if len(keep) < event.filled:
                cancelled += event.filled - len(keep)
                event.persons = array("l", (event.persons[i] for i in keep))
                event.bookings = array("q", (event.bookings[i] for i in keep))
        return cancelled

    def _add_bookings(self, rng: random.Random, since: int, now: int) -> int:
        pending: list[tuple[int, int, int]] = []
        population = len(self.people)
        for position, event in enumerate(self.events):
            # Open for booking at some moment of the day just passed.
            if event.bookable_earliest > now or event.bookable_latest <= since:
                continue
            room = event.slots - event.filled
            count = min(room, rng.randint(*DAILY_BOOKINGS_PER_OPEN_EVENT))
            if count <= 0:
                continue
            booked = set(event.persons)
            opens = max(since + 1, event.bookable_earliest)
            closes = min(now, event.bookable_latest)
            while count and len(booked) < population:
                person = rng.randrange(population)
                if person in booked:
                    continue
                booked.add(person)
                pending.append((rng.randint(opens, closes), position, person))
                count -= 1
        return self._book(pending)

    # ---- HTTP -----------------------------------------------------------

    @synchronized
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SandboxResponse:
        self.requests_served += 1
        if self._failure is not None:
            status, code, message = self._failure
            self._failure = None
            return ApiError(status, [(code, message)]).response()
        try:
            path = path.rstrip("/") or "/"
            if path not in EVENTS_PATHS:
                raise ApiError(404, [("NotFound", f"No such resource: {_echo(path)}")])
            if method.upper() != "GET":
                error = ApiError(405, [("MethodNotAllowed", f"Method {method.upper()} is not allowed; use GET")])
                return error.response({"Allow": "GET"})
            self._authenticate(query)
            request = self._parse(query)
        except ApiError as error:
            return error.response()
        matching = self._select(request)
        broken, self._break = self._break > 0, max(0, self._break - 1)
        return SandboxResponse.xml_stream(self._render(matching, request.include_participants, broken))

    def _authenticate(self, query: Mapping[str, list[str]]) -> None:
        given = _first(query, "apikey")
        if given is None:
            raise ApiError(401, [("ApiKeyMissing", "The apikey parameter is required")])
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise ApiError(403, [("ApiKeyInvalid", "The apikey given is not valid")])

    @staticmethod
    def _parse(query: Mapping[str, list[str]]) -> Query:
        errors: list[tuple[str, str]] = []

        def invalid(name: str, value: str, expected: str) -> None:
            errors.append(("InvalidParameter", f"Invalid value '{_echo(value)}' for parameter {name}: "
                                               f"expected {expected}"))

        def boolean(name: str, default: bool) -> bool:
            value = _first(query, name)
            if value is None:
                return default
            parsed = BOOLEANS.get(value.lower())
            if parsed is None:
                invalid(name, value, "true or false")
                return default
            return parsed

        def identifier(name: str) -> int | None:
            value = _first(query, name)
            if value is None:
                return None
            if not ID_PATTERN.fullmatch(value):
                invalid(name, value, "a positive integer id")
                return None
            return int(value)

        def date(name: str) -> dt.date | None:
            value = _first(query, name)
            if value is None:
                return None
            try:
                if not DATE_PATTERN.fullmatch(value):
                    raise ValueError(value)
                return dt.date.fromisoformat(value)
            except ValueError:
                invalid(name, value, "a date as YYYY-MM-DD")
                return None

        def id_list() -> frozenset[int] | None:
            ids: set[int] = set()
            given = False
            for name in ("businessunitids", "businessunitid"):
                for value in query.get(name, []):
                    if not value.strip():
                        continue
                    given = True
                    items = [item.strip() for item in value.split(",")]
                    if not all(ID_PATTERN.fullmatch(item) for item in items):
                        invalid(name, value, "a comma-separated list of positive integer ids")
                        continue
                    ids.update(int(item) for item in items)
            return frozenset(ids) if given else None

        parsed = Query(
            include_booking=boolean("includebooking", False),
            include_participants=boolean("includeparticipants", False),
            business_units=id_list(),
            product_label=identifier("productlabelid"),
            internet_only=boolean("bookablefrominternet", True),
            resource=identifier("resourceid"),
            ongoing=date("ongoingdate"),
            starts_from=date("startdate"),
            ends_by=date("enddate"),
            publish_from=date("publishstartdate"),
            publish_until=date("publishenddate"),
        )
        if errors:
            raise ApiError(400, errors)
        return parsed

    def _select(self, q: Query) -> list[Event]:
        """The events matching a request, in response order (a snapshot of the list)."""
        now = _epoch(self.now)
        today = self.today_local
        dated = q.has_date_filter
        publish_from = _instant(q.publish_from, 0) if q.publish_from else None
        publish_until = _instant(q.publish_until + dt.timedelta(days=1), 0) if q.publish_until else None
        selected = []
        for e in self._ordered_events():
            if q.internet_only and not e.internet:
                continue
            if q.include_booking and not e.open_for_booking(now):
                continue
            if q.business_units is not None and e.unit.id not in q.business_units:
                continue
            if q.product_label is not None and q.product_label not in e.product.labels:
                continue
            if q.resource is not None and q.resource not in e.resources:
                continue
            if not dated:
                if e.enddate < today:
                    continue
            elif not (
                (q.ongoing is None or e.startdate <= q.ongoing <= e.enddate)
                and (q.starts_from is None or e.startdate >= q.starts_from)
                and (q.ends_by is None or e.enddate <= q.ends_by)
                and (publish_from is None or e.publish_start >= publish_from)
                and (publish_until is None or e.publish_end < publish_until)
            ):
                continue
            selected.append(e)
        return selected

    def _render(self, events: list[Event], participants: bool, broken: bool) -> Iterator[bytes]:
        """The events document in batches; each batch is rendered under the lock."""
        yield f"{XML_DECLARATION}<events>\n".encode()
        if broken:
            yield from self._render_broken(events, participants)
            return
        for low in range(0, len(events), BATCH_SIZE):
            with self.lock:
                text = "".join([self._event_xml(e, participants) for e in events[low:low + BATCH_SIZE]])
            yield text.encode()
        yield b"</events>\n"

    def _render_broken(self, events: list[Event], participants: bool) -> Iterator[bytes]:
        """Some complete events, then half of the next one: not well-formed, but cleanly ended."""
        complete = min(len(events) // 2, BATCH_SIZE)
        with self.lock:
            text = "".join([self._event_xml(e, participants) for e in events[:complete]])
            if complete < len(events):
                partial = self._event_xml(events[complete], participants)
                cut = partial.index("</name>")  # stop inside <name>, mid-element
                text += partial[:cut - 2]
            else:
                text += "  <event>\n    <id>"
        yield text.encode()

    def _event_xml(self, e: Event, participants: bool) -> str:
        if self.profile.sparse:
            return self._sparse_event_xml(e, participants)
        elements = "".join(f"    <{tag}>{content}</{tag}>\n" for tag, content in self._elements(e))
        text = "  <event>\n" + elements
        if participants:
            text += self._participants_xml(e)
        return text + "  </event>\n"

    @staticmethod
    def _elements(e: Event) -> list[tuple[str, str]]:
        """(tag, content as XML) of an event's elements but participants, in the document's order."""
        local_time = f"{e.minutes // 60:02d}:{e.minutes % 60:02d}" if e.has_time else ""
        product, unit = e.product, e.unit
        elements = [
            ("id", str(e.id)),
            ("name", _esc(e.name)),
            ("code", e.code),
            ("productid", str(product.id)),
            ("description", _esc(e.description)),
            ("lastupdate", _local_text(e.lastupdate)),
            ("productdescription", _esc(product.description)),
            ("numberofoccasions", str(e.occasions)),
            ("time", local_time),
            ("startdate", e.startdate.isoformat()),
            ("enddate", e.enddate.isoformat()),
            ("publishstart", _local_text(e.publish_start)),
            ("publishend", _local_text(e.publish_end)),
            ("bookableslots", str(e.slots)),
            ("filledslots", str(e.filled)),
            ("registered", "false"),
            ("bookableearliest", _timepoint(e.bookable_earliest)),
            ("bookablelatest", _timepoint(e.bookable_latest)),
            ("businessunit", f"\n      <id>{unit.id}</id>\n      <name>{_esc(unit.name)}</name>\n    "),
        ]
        if e.orderid is not None:
            elements.append(("orderid", str(e.orderid)))
        return elements

    def _sparse_event_xml(self, e: Event, participants: bool) -> str:
        bare = self.profile.bare(e.id)
        parts = ["  <event>\n"]
        for tag, content in self._elements(e):
            if bare and tag == "filledslots":
                content = "0"  # the count of the participants it lists
            fate = self.profile.field_fate(EVENT_SHAPE, (e.id,), tag)
            parts.append(_sparse_element(fate, tag, content, "    "))
        if participants:
            parts.append("    <participants/>\n" if bare else self._sparse_participants_xml(e))
        parts.append("  </event>\n")
        return "".join(parts)

    def _sparse_participants_xml(self, e: Event) -> str:
        if not e.persons:
            return "    <participants/>\n"
        rows = []
        for person, booking in zip(e.persons, e.bookings, strict=True):
            first, last = self._names_of(person)
            elements = (("personid", str(PERSON_ID_BASE + person)), ("firstname", first), ("lastname", last),
                        ("eventbookingid", str(booking)))
            fate = functools.partial(self.profile.field_fate, PARTICIPANT_SHAPE, (booking,))
            rows.append("      <participant>\n"
                        + "".join(_sparse_element(fate(tag), tag, text, "        ") for tag, text in elements)
                        + "      </participant>\n")
        return "    <participants>\n" + "".join(rows) + "    </participants>\n"

    def _participants_xml(self, e: Event) -> str:
        if not e.persons:
            return "    <participants/>\n"
        names = self._names_of
        rows = []
        for person, booking in zip(e.persons, e.bookings, strict=True):
            first, last = names(person)
            rows.append(
                "      <participant>\n"
                f"        <personid>{PERSON_ID_BASE + person}</personid>\n"
                f"        <firstname>{first}</firstname>\n"
                f"        <lastname>{last}</lastname>\n"
                f"        <eventbookingid>{booking}</eventbookingid>\n"
                "      </participant>\n"
            )
        return "    <participants>\n" + "".join(rows) + "    </participants>\n"


# The app `sandboxes.registry` serves for this vendor.
SANDBOX = BrpSandbox

"""EventBookings API sandbox (``vendor-docs/eventbookings-api-reference.txt``).

Serves the OAuth2 token endpoint and the Events endpoints a reporting client
reads: the event list, one event, and an event's sessions, tickets, attendees
and orders, an event's waiting list and the calls to join it or cancel the
event (endpoints 40, 41 and 42), over deterministic synthetic
data (a function of ``seed``, ``scale`` and ``start_date``) and a simulated
clock. The document's quirks are kept on purpose, as its examples show them:
booleans and most numbers sent as strings, the ``pagination`` block echoing
its values as strings, a single event wrapped in the ``events`` list,
``extended_status`` as name/value pairs, the ``linkedin`` link keyed
``"linkedin"`` instead of ``"value"``, prices as currency strings in mixed
formats ("$30.0", "$45.00", "$1,250.00"), and ``pricing_details`` a list on
ticket levels but a single object without a price on donation levels.

Assumptions where the document is silent:

- Token: ``POST /connect/token`` on the sandbox's own origin takes a
  form-encoded ``client_id``, ``client_secret`` and ``grant_type``. Errors are
  HTTP 400 in the OAuth2 style: ``{"error": "invalid_request"}`` for a body
  that is not form-encoded, ``invalid_client`` for an unknown client or wrong
  secret, ``unsupported_grant_type`` for a grant other than (or misspelling)
  ``client_credentials``; checked in that order. Tokens are opaque and expire
  ``token_lifetime`` seconds of real time after issue (the simulated clock
  does not age them); ``expires_in`` is that lifetime, rounded, at least 1.
- API: paths sit below ``/api``. Every call needs ``Authorization: Bearer``;
  a missing, unknown (or revoked) or expired token answers 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"`` (plus
  ``error_description="The token expired"`` when expired). Unknown paths
  answer 404 and a known path with another method 405, both before the token
  is checked. Errors use the document's envelope ``{"statusCode", "message"}``;
  an unknown event uuid is 404.
- ``GET /events/{uuid}`` answers ``{"events": [event]}`` without pagination.
  ``/events`` lists every event of the organisation, drafts, ended and
  cancelled ones included. Its ``status`` filter keeps ``published`` events
  (publishing "Published"), ``live`` ones (live "true"), or ``draft``/``ready``
  ones (publishing "Draft"); ``currency`` matches the ISO code without case and
  ``search_q`` is a case-insensitive substring of the name. The other
  documented filters are accepted and ignored.
- Every list pages with ``position`` (zero-based index of the first record,
  default 0) and ``rows`` (default 20, 20–100 as documented); a non-integer or
  negative ``position``, or a ``rows`` outside 20–100, is 400 naming the
  parameter; a position past the end gives an empty list. ``order_by`` is
  ``created_ascending`` (default), ``created_descending``, ``starting`` (start
  time; for tickets, orders and attendees the same as ``created_ascending``),
  ``name_ascending`` or ``name_descending`` (attendees by last then first name,
  orders by order number); ties go by uuid and an unknown value is 400.
  Tickets are "created" in display order.
- Sessions page as single sessions (``records`` counts sessions); each page
  groups its sessions as ``[{"type": "required", ...}, {"type": "optional",
  ...}]`` in that order, each group in page order, empty groups left out. An
  event without sessions answers ``"sessions": []``. The event's
  ``sessions.session_lists`` holds the same sessions, ungrouped.
- Event payloads carry every key of the document's example. ``status`` is
  "active" or "cancelled". ``extended_status`` follows the clock: live is
  "true" from start to end unless cancelled, ended once the end has passed.
  ``attending_on`` is ``[start, end]``; ``occurrence`` is a ``schedule`` with
  one ``starts_on``/``event_duration`` (minutes). ``settings.event_capacity``
  is the sum of ticket quantity × places per unit; booking opens at creation
  and closes at the start. Date pairs are ``{"utc", "local"}`` as
  ``YYYY-MM-DD HH:MM``, local in the event's IANA ``timezone``; ``created_on``
  and ``updated_on`` are ``YYYY-MM-DD HH:MM:SS`` in UTC. An event's
  ``updated_on`` moves when it is renamed, rescheduled or cancelled, not when
  orders arrive. Other nested values are plausible fillers.
- About 1 event in 10 is a draft and has no orders. Tickets: 2–4 levels out
  of "General Admission" (sometimes free), "VIP" (variations "Gold" and
  "Silver"), "Group of 5" (5 places per unit, some cost $1,000 or more) and
  "Donation"; ``quantity_sold`` counts units in orders that are neither
  cancelled nor refunded, less partly refunded units.
- Orders (the document shows no payload) are ``{"uuid", "order_number"
  ("EB-100001", numbered in time order), "status" (completed,
  partially_refunded, refunded, cancelled), "currency", "buyer", "line_items",
  "subtotal", "discount", "fees", "total", "refunded_amount",
  "payment_method" (card, paypal, invoice, free), "ordered_on", "refunded_on",
  "created_on", "updated_on"}``. Money is exact to the cent: amount = unit
  price × quantity, subtotal = Σ amounts, a discount (10% coupon, on about 10%
  of paid orders), fees = $0.30 + 3.4% of the discounted subtotal rounded half
  up (0 on free orders), total = subtotal − discount + fees. ``refunded_amount``
  is the total once refunded, or one line's unit price × the units refunded
  when partly refunded (always less than the total). Donation lines carry the
  amount the buyer chose ($5–$100) and a null ``pricing_uuid``. About 2% of orders are "cancelled"
  (payment never completed) and admit no one.
- Attendees (the document shows no payload) are one per place: a line of
  quantity q of a ticket with q places per unit gives q × k attendees. Only
  valid tickets are listed: attendees of cancelled or refunded orders, of
  refunded units, and of cancelled events are not. ``session_uuids`` lists
  the required sessions and the optional ones the ticket admits to. Once an
  event has started, 70–85% of its attendees are checked in, between 30
  minutes before and an hour after the start (never after the moment the
  clock passed the start); ``updated_on`` is then the check-in time.
- People come from the shared ``PersonPool``, so the same seed gives the same
  people and e-mails as the other vendor sandboxes; about 5% of e-mails are
  stored as typed. The buyer is usually one of the order's attendees, and a
  buyer's ``uuid`` is the same in every order. Uuids are random-looking
  version 4 uuids drawn from the seeded generator; attendees' and line
  items' derive from their order's.
- ``POST /events/{uuid}/cancel`` answers 200 ``{"statusCode": 200, "message":
  "Event cancelled"}`` (400 if already cancelled): the event's status becomes
  "cancelled", every completed or partly refunded order is refunded in full
  at that moment, and its attendees leave the list.
- Waiting lists (the document names endpoints 40 and 41 but shows no
  payload): about 30% of events, fixed by the seed and the event's uuid, have
  ``settings.waiting_list.enabled`` "true"; it is an event-level list, so
  ticket levels keep ``enable_waiting_list`` "false". ``GET
  /events/{uuid}/waiting_list`` pages like the other per-event lists (names
  order by last then first name, ``starting`` as ``created_ascending``) and
  answers ``{"waiting_list": [entry], "pagination": {...}}``, an empty list
  when the event has none enabled. An entry is ``{"uuid", "email",
  "first_name", "last_name", "quantity" (tickets wanted, "1"–"4"),
  "created_on": {"utc", "local"} (``YYYY-MM-DD HH:MM:SS``), "status"
  ("waiting")}``; one who leaves the list is no longer listed. Published
  events with the list get 0–6 entries between booking opening and the start
  (or now), from people of the pool in none of the event's orders. ``POST
  /events/{uuid}/get_into_waiting_list`` takes a JSON object ``{"email"
  (required), "first_name", "last_name" (at most 40 characters each,
  default ""), "quantity" (1–4, an integer or a string of digits, default
  1)}`` and answers 200 ``{"waiting_list": [entry]}`` created at the
  simulated now. It is 400 in the error envelope, checked in this order, for a
  body that is not a JSON object, a missing or invalid field, an event whose
  waiting list is not enabled, a cancelled, draft or started event, and an
  e-mail already on that list (compared without case or surrounding spaces).
  Each advanced day removes about 10% of the entries of published events not
  yet started and adds 0–3 more, from a random stream of its own, so no other
  value depends on waiting lists. A cancelled event keeps its list as it was.
- The simulated clock starts at 06:00 UTC of ``start_date``. Each advanced day
  adds events (starting 30–120 days ahead), renames or reschedules (by a few
  hours) some future events, adds orders to published events not yet started,
  refunds about 2% (and partly refunds about 1%) of their completed orders,
  now and then cancels a future event through the cancel endpoint's code, and
  checks in the attendees of events that started. Each day's draws come from
  its own seed, so advancing 2 days equals advancing 1 day twice.

Sparse profile (``profile="sparse"``, see ``sandboxes.server.SandboxProfile``):
the document marks no response field required, so the sandbox keeps what a
record cannot do without and thins the rest (``*_SHAPE`` below):

- Always sent: every ``uuid``; an event's ``attending_on`` (its start and
  end) and ``updated_on`` (the only change stamp the API offers, so a client
  can read incrementally); a session's ``session_starts_on``; the ``email`` of
  an attendee or waiting-list entry (the only way the vendor knows a person).
  The event of an attendee is the one in the request's path. An event's
  ``sessions`` and ``tickets`` objects, when sent, keep their wrappers; the
  sessions and ticket levels in them are thinned as the lists are.
- Everything else is optional: left out, blank or kept as drawn per record.
  A session's ``configuration`` (its venue, i.e. its room) is never sent with
  a value.
- The organisation sells nothing through orders: ``/orders`` is always an
  empty list, and attendees carry no ``order_uuid``. The attendees and the
  tickets' counts are still those of the orders behind them.
- About one event in four answers every child list empty (sessions,
  tickets, attendees, waiting list), and its own ``sessions`` and
  ``tickets`` list none either. Joining such an event's waiting list
  succeeds, but the entry is not listed.

Faults (``sandboxes.faults``): drift and bad data apply to ``GET /api/events``
and ``GET /api/events/{uuid}``. The key is ``uuid``; the date is
``updated_on``, the source's cursor. Drift adds ``promo_code``, turns
``enable_datetime_conversion`` (a string stored as is) into an object and
leaves out ``ticket_instruction`` (a free text an organiser may not set);
the source needs none of them. ``expired_token`` applies to API calls with a
bearer token, never to the token endpoint: the token presented expires at
once, so the call answers the expired-token 401 above, and so does every
later call with that token, until the client fetches a new one.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import random
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from sandboxes.faults import FaultTarget
from sandboxes.server import FULL, PersonPool, RecordShape, SandboxApp, SandboxResponse, synchronized

# Drawn once per process, so no usable credential is a constant in code: tests read
# them from here, clients from `settings()`, and `turnout demo` may pass its own.
DEMO_CLIENT_ID = f"eventbookings-client-{secrets.token_urlsafe(12)}"
DEMO_CLIENT_SECRET = f"eventbookings-secret-{secrets.token_urlsafe(18)}"
API_PREFIX = "/api"
TOKEN_PATH = "/connect/token"
# Below API_PREFIX; "{uuid}" is the event's.
WAITING_LIST_PATH = "/events/{uuid}/waiting_list"
JOIN_WAITING_LIST_PATH = "/events/{uuid}/get_into_waiting_list"


@dataclass(frozen=True)
class ScalePreset:
    events: int
    orders_per_event: tuple[int, int]  # initial orders of each published event
    people: int
    new_events_per_day: tuple[int, int]
    changed_events_per_day: tuple[int, int]
    daily_orders_per_event: tuple[int, int]
    cancelled_events_per_day: float  # expected count
    # Events start from this many days before the start date: medium and large hold
    # years of history, as an organisation's first load does, and a day then adds and
    # changes about what an average day of that history holds, at most a few times more.
    history_days: int = 60


SCALES: dict[str, ScalePreset] = {
    "small": ScalePreset(
        events=10, orders_per_event=(15, 40), people=300, new_events_per_day=(1, 2),
        changed_events_per_day=(1, 2), daily_orders_per_event=(2, 8), cancelled_events_per_day=1 / 3,
    ),
    "medium": ScalePreset(
        events=300, orders_per_event=(20, 45), people=20_000, new_events_per_day=(0, 1),
        changed_events_per_day=(1, 3), daily_orders_per_event=(1, 4), cancelled_events_per_day=0.5, history_days=1825,
    ),
    "large": ScalePreset(
        events=2_500, orders_per_event=(65, 135), people=150_000, new_events_per_day=(1, 4),
        changed_events_per_day=(5, 15), daily_orders_per_event=(1, 4), cancelled_events_per_day=2.0, history_days=1825,
    ),
}

GRANT_TYPE = "client_credentials"
TOKEN_SCOPE = "all IdentityServerApi"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Expired tokens are remembered this long, so that they answer "expired".
EXPIRED_TOKEN_MEMORY = 3600.0
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'
EXPIRED_TOKEN_CHALLENGE = 'Bearer error="invalid_token", error_description="The token expired"'

DEFAULT_ROWS = 20
ROWS_RANGE = (20, 100)
ORDER_BYS = ("created_ascending", "created_descending", "starting", "name_ascending", "name_descending")
DEFAULT_ORDER_BY = "created_ascending"
STATUS_FILTERS = ("draft", "ready", "published", "live")
SESSION_TYPES = ("required", "optional")

COMPLETED = "completed"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
CANCELLED = "cancelled"
LIVE_ORDER_STATUSES = (COMPLETED, PARTIALLY_REFUNDED)

# Events start between these many days before and after the start date at scale
# small; the other scales reach further back (ScalePreset.history_days).
EVENT_WINDOW_DAYS = (-60, 90)
# Events are created this many days before they start (bounded by the clock).
CREATION_LEAD_DAYS = (30, 150)
NEW_EVENT_START_DAYS = (30, 120)
EVENT_HOURS = (2, 8)
EVENT_LOCAL_START_HOURS = (9, 19)
EVENT_START_MINUTES = (0, 0, 15, 30, 30, 45)
TWO_DAY_RATE = 0.15
DRAFT_RATE = 0.1
UNLISTED_RATE = 0.2
SESSION_EVENT_RATE = 0.6
SESSIONS_PER_EVENT = (1, 4)
OPTIONAL_SESSION_RATE = 0.6
OPTIONAL_ADMISSION_RATE = 0.5
RESCHEDULE_HOURS = (1, 48)
RENAME_TAGS = ("Rescheduled", "New Venue", "Extended", "Sold Out Soon", "Encore")

CHECK_IN_RATE = (0.70, 0.85)
CHECK_IN_WINDOW = (-30 * 60, 60 * 60)  # seconds around the start

CANCELLED_ORDER_RATE = 0.02
SECOND_LINE_RATE = 0.15
BUYER_ATTENDS_RATE = 0.85
DISCOUNT_RATE = 0.10
DISCOUNT_PERCENT = 10
INITIAL_REFUND_RATE = 0.03
INITIAL_PARTIAL_REFUND_RATE = 0.015
DAILY_REFUND_RATE = 0.02
DAILY_PARTIAL_REFUND_RATE = 0.01
FEE_FIXED_CENTS = 30
FEE_PER_MILLE = 34  # 3.4%
DONATION_DOLLARS = (5, 100)
# Payment methods of paid orders with their cumulative weights.
PAYMENT_METHODS = ("card", "paypal", "invoice")
PAYMENT_WEIGHTS = (75, 90, 100)
FREE_PAYMENT = "free"

FREE_ADMISSION_RATE = 0.1
BIG_GROUP_RATE = 0.25
SHORT_PRICE_RATE = 0.4
ORDER_NUMBER_BASE = 100_001

# Waiting lists draw from random streams of their own (see _build and _advance_one_day).
WAITING_LIST_PER_MILLE = 300  # events with the list enabled
INITIAL_WAITING = (0, 6)
DAILY_WAITING = (0, 3)
DAILY_LEAVE_RATE = 0.10
WAITING_QUANTITIES = (1, 1, 1, 2, 2, 2, 3, 4)
WAITING_QUANTITY_RANGE = (1, 4)
WAITING_STATUS = "waiting"
NAME_MAX_LENGTH = 40
PERSON_DRAW_TRIES = 20

# (timezone, currency, city, state, country, post code, latitude, longitude)
REGIONS = (
    ("Australia/Melbourne", "AUD", "Melbourne", "Victoria", "Australia", "3000", "-37.8136", "144.9631"),
    ("Australia/Sydney", "AUD", "Sydney", "New South Wales", "Australia", "2000", "-33.8688", "151.2093"),
    ("Pacific/Auckland", "NZD", "Auckland", "Auckland", "New Zealand", "1010", "-36.8485", "174.7633"),
    ("America/New_York", "USD", "New York", "New York", "United States", "10001", "40.7128", "-74.0060"),
    ("America/Chicago", "USD", "Chicago", "Illinois", "United States", "60601", "41.8781", "-87.6298"),
    ("Europe/London", "GBP", "London", "", "United Kingdom", "EC1A 1BB", "51.5074", "-0.1278"),
)
SYMBOLS = {"AUD": "$", "NZD": "$", "USD": "$", "GBP": "£"}
# currency -> (tax code, rate in percent)
TAXES = {"AUD": ("GST", "10"), "NZD": ("GST", "15"), "USD": ("Sales Tax", "0"), "GBP": ("VAT", "20")}
VENUES = ("Town Hall", "Convention Centre", "Arts Centre", "Old Warehouse", "Pavilion", "Grand Hotel",
          "Community Hall", "Riverside Theatre", "Botanic Gardens", "Exhibition Building")
STREETS = ("Collins St", "George St", "Queen St", "Main St", "High St", "Market St", "Park Ave", "King St",
           "Victoria Rd", "Harbour Rd")
ADJECTIVES = ("Summer", "Winter", "Spring", "Autumn", "Sunset", "Midnight", "Harbour", "City", "Riverside",
              "Grand", "Annual", "Community")
TOPICS = ("Jazz", "Wine", "Food Truck", "Startup", "Comedy", "Yoga", "Craft Beer", "Film", "Poetry",
          "Photography", "Charity", "Book", "Design", "Coding", "Gardening", "Salsa")
KINDS = ("Night", "Festival", "Meetup", "Gala", "Workshop", "Masterclass", "Tasting", "Fair", "Showcase",
         "Retreat")
CATEGORIES = ("Music", "Food & Drink", "Business", "Arts", "Health", "Community")
SESSION_NAMES = ("Welcome & Registration", "Opening Act", "Main Stage", "Masterclass", "Panel Discussion",
                 "Hands-on Workshop", "Tasting Flight", "Networking Drinks", "Q&A", "Closing Set",
                 "Meet the Makers", "Late Show")

GENERAL, VIP, GROUP, DONATION = "General Admission", "VIP", "Group of 5", "Donation"
# (level, weight when buyers pick a level, quantities buyers pick, max per customer)
LEVEL_KINDS = {
    GENERAL: (60, (1, 1, 1, 2, 2, 2, 3, 4, 6), 10),
    VIP: (20, (1, 1, 2, 2, 4), 4),
    GROUP: (10, (1, 1, 1, 2), 2),
    DONATION: (10, (1,), 1),
}
OPTIONAL_LEVELS = (VIP, GROUP, DONATION)

CDN_BASE = "https://cdn.eventbookings.example.com"
SITE_BASE = "https://www.eventbookings.example.com"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
MINUTE_FORMAT = "%Y-%m-%d %H:%M"
DAY = 86_400
HOUR = 3_600

_MASK64 = (1 << 64) - 1
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
# Salts of the uuids derived from an order's.
_ATTENDEE_SALT, _LINE_SALT, _CHECK_IN_SALT, _PERSON_SALT, _COUPON_SALT, _ORG_SALT = range(1, 7)
# Salt of waiting-list entry uuids (derived from the event's) and of the enabled flag.
_WAITING_SALT = 7
_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# --------------------------------------------------------------------------
# Stored rows: tuples and __slots__ objects keep ~1M rows small; JSON dicts
# are only built for the page being served.
# --------------------------------------------------------------------------


class Variation(NamedTuple):
    key: int
    name: str
    price: int  # cents; 0 on donation levels, where the buyer chooses
    text: str  # the price as the vendor writes it; "" on donation levels


class Level(NamedTuple):
    key: int
    position: int
    name: str
    description: str
    category: str  # "ticket" | "donation"
    quantity: int
    max_per_customer: int
    included: int  # attendee places per unit
    variations: tuple[Variation, ...]
    sessions: tuple[int, ...]  # positions of the sessions it admits to
    line_quantities: tuple[int, ...]


class Session:
    __slots__ = ("key", "position", "type", "name", "description", "offset", "seconds", "created", "updated")

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)


# A line item: (level position, variation position, quantity, unit price in cents).
Line = tuple[int, int, int, int]


class Order:
    __slots__ = (
        "key", "number", "buyer", "persons", "lines", "created", "updated", "status", "discount",
        "payment", "refunded_on", "refund_line", "refund_units",
    )

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.number = 0
        self.refunded_on: int | None = None
        self.refund_line = -1
        self.refund_units = 0

    @property
    def subtotal(self) -> int:
        return sum(quantity * unit for _, _, quantity, unit in self.lines)

    @property
    def total(self) -> int:
        subtotal = self.subtotal
        return subtotal - self.discount + _fee(subtotal - self.discount)

    @property
    def refunded_amount(self) -> int:
        if self.status == REFUNDED:
            return self.total
        if self.status == PARTIALLY_REFUNDED:
            return self.lines[self.refund_line][3] * self.refund_units
        return 0


class Event:
    __slots__ = (
        "key", "name", "base_name", "description", "category", "region", "venue", "street_number", "street",
        "start", "end", "created", "updated", "published", "listed", "cancelled", "short_prices", "levels",
        "sessions", "orders", "sold", "check_in_rate", "check_in_threshold", "check_in_until", "stats",
        "lists", "waiting_list", "waiting", "waiting_serial",
    )

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.cancelled = False
        self.orders: list[Order] = []  # in placement order
        self.check_in_threshold: int | None = None  # set once the clock passes the start
        self.check_in_until = 0
        self.stats: EventStats | None = None
        self.lists: dict[tuple[str, str], list[Any]] = {}  # sorted rows per (list, order_by)
        self.waiting_list = False  # the waiting list is enabled
        self.waiting: list[WaitingEntry] = []  # in joining order
        self.waiting_serial = 0  # entries ever added, for their uuids

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(REGIONS[self.region][0])

    @property
    def currency(self) -> str:
        return REGIONS[self.region][1]

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.currency]

    def orders_changed(self) -> None:
        self.lists.clear()
        self.stats = None

    def waiting_changed(self) -> None:
        for key in [k for k in self.lists if k[0] == "waiting_list"]:
            del self.lists[key]


class EventStats(NamedTuple):
    orders: int  # not cancelled
    revenue: int  # cents kept: totals less refunds
    coupon_uses: int
    units: int  # units in live orders


# One attendee: (order, place index within the order, line position).
AttendeeRow = tuple[Order, int, int]


class WaitingEntry(NamedTuple):
    key: int
    email: str
    first_name: str
    last_name: str
    quantity: int
    created: int


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> SandboxResponse:
        return _error(self.status, self.message)


# --------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------


def _mix(*parts: int) -> int:
    """SplitMix64 over integers: a stable hash, unlike the per-process salted hash()."""
    x = 0
    for part in parts:
        x = (x + part + 0x9E3779B97F4A7C15) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        x ^= x >> 31
    return x


def _v4(value: int) -> int:
    """The 128-bit value with version 4 and variant bits, as ``uuid.UUID(int=..., version=4)``."""
    return (value & _V4_CLEAR) | _V4_SET


def _new_key(rng: random.Random) -> int:
    return _v4(rng.getrandbits(128))


def _derived_key(key: int, *parts: int) -> int:
    high, low = key >> 64, key & _MASK64
    return _v4((_mix(high, low, *parts, 1) << 64) | _mix(high, low, *parts, 2))


def _uuid(key: int) -> str:
    h = f"{key:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _stamp(epoch: int) -> str:
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(epoch))


def _pair(epoch: int, zone: ZoneInfo, fmt: str = MINUTE_FORMAT) -> dict[str, str]:
    return {
        "utc": time.strftime(fmt, time.gmtime(epoch)),
        "local": dt.datetime.fromtimestamp(epoch, zone).strftime(fmt),
    }


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _random_epoch(rng: random.Random, low: int, high: int) -> int:
    return low if high <= low else rng.randint(low, high)


def _money(cents: int, symbol: str) -> str:
    """'$1,250.00': two decimals, thousands separated."""
    return f"{symbol}{cents // 100:,}.{cents % 100:02d}"


def _price_text(cents: int, symbol: str, short: bool) -> str:
    """A ticket price as the vendor writes it: '$30.0' where one decimal is exact, else '$30.00'."""
    if short and cents % 10 == 0 and cents < 100_000:
        return f"{symbol}{cents // 100}.{cents % 100 // 10}"
    return _money(cents, symbol)


def _fee(net: int) -> int:
    """$0.30 plus 3.4% rounded half up, in cents; nothing on a free order."""
    return 0 if net <= 0 else FEE_FIXED_CENTS + (net * FEE_PER_MILLE + 500) // 1000


def _discount(subtotal: int) -> int:
    return (subtotal * DISCOUNT_PERCENT + 50) // 100


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> SandboxResponse:
    return SandboxResponse.json({"statusCode": status, "message": message}, status=status, headers=headers)


def _oauth_error(error: str) -> SandboxResponse:
    return SandboxResponse.json({"error": error}, status=400, headers={"Cache-Control": "no-store"})


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value or ""


def _param(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    value = values[0].strip()
    return value or None


def _paging(query: Mapping[str, list[str]]) -> tuple[int, int, str]:
    """(position, rows, order_by) of a list call; order_by is "" when not given."""
    raw_position, raw_rows = _param(query, "position"), _param(query, "rows")
    position = 0
    if raw_position is not None:
        if not _DIGITS.fullmatch(raw_position):
            raise ApiError(400, "position must be a non-negative integer")
        position = int(raw_position)
    rows = DEFAULT_ROWS
    if raw_rows is not None:
        low, high = ROWS_RANGE
        if not _DIGITS.fullmatch(raw_rows) or not low <= int(raw_rows) <= high:
            raise ApiError(400, f"rows must be between {low} and {high}")
        rows = int(raw_rows)
    order_by = _param(query, "order_by") or ""
    if order_by and order_by not in ORDER_BYS:
        raise ApiError(400, f"order_by must be one of {', '.join(ORDER_BYS)}")
    return position, rows, order_by


def _pagination(records: int, position: int, rows: int, order_by: str) -> dict[str, str]:
    return {"records": str(records), "position": str(position), "rows": str(rows), "order_by": order_by}


def _sorted(items: Sequence[Any], primary: Callable[[Any], Any], tie: Callable[[Any], Any],
            descending: bool) -> list[Any]:
    """Sorted by ``primary`` (either way), ties always by ascending ``tie``."""
    ordered = sorted(items, key=tie)
    ordered.sort(key=primary, reverse=descending)  # stable, also when reversed
    return ordered


# --------------------------------------------------------------------------
# Fixed parts of the payloads (never mutated: shared by every response)
# --------------------------------------------------------------------------

_RESOURCES = [
    [{"name": "uuid", "value": ""}, {"name": "order", "value": 1}, {"name": "type", "value": kind},
     {"name": "content", "value": []}]
    for kind in ("video", "image", "text")
]
_EARLY_BIRD = {
    "discount_type": "percentage",
    "discount": "0",
    "discount_starts_on": {"immediately": "true", "utc": "", "local": ""},
    "discount_ends_on": {"continue_until_event_ends": "false", "utc": "", "local": ""},
}
_SESSION_EARLY_BIRD = {
    "discount_type": "percentage",
    "discount": "0",
    "discount_starts_on": {"utc": "", "local": ""},
    "discount_ends_on": {"utc": "", "local": ""},
}
_CUSTOM_ATTRIBUTES = [{"name": "", "value": ""}, {"name": "", "value": ""}]
_AGE_RESTRICTION = {"type": "age", "enabled": "false", "condition": {"max": 0}}
_EVENT_SETTINGS = {
    "terminology": "registration",
    "enable_guest_checkout": "true",
    "enable_share": "true",
    "digital_pass": {"enabled": "true", "level": "ticket"},
    "discount": {"enabled": "true", "level": "event"},
    "coupon": {"enabled": "true", "level": "event"},
    "service_charge": {"enabled": "true", "level": "event"},
    "boxoffice": "",
    "sell_session_individually": {"enabled": "false", "level": "event"},
    "sell_tickets_on_venue": {"enabled": "false", "level": "event"},
    "special_instruction": {"enabled": "false", "level": "ticket"},
    "waiting_list": {"enabled": "false", "level": "event"},
    "tracking_codes": [
        {"type": "code", "value": "Google analytics"},
        {"type": "code", "value": "Google ads"},
        {"type": "code", "value": "Facebook pixel"},
    ],
    "blockout_period": "1440",
    "restrictions": [
        {**_AGE_RESTRICTION, "level": "event"},
        {"type": "invitation_code", "enabled": "false", "level": "ticket", "condition": {"code": ""}},
        {"type": "invitation_link", "enabled": "false", "level": "event", "condition": None},
        {"type": "email", "enabled": "false", "level": "ticket", "condition": {"contact_list": []}},
    ],
}
_WAITING_LIST_OFF = _EVENT_SETTINGS["waiting_list"]
_WAITING_LIST_ON = {**_WAITING_LIST_OFF, "enabled": "true"}
_ORDER_FORM = {
    "name": "order_form",
    "value": {
        "enabled": "true",
        "list": [{
            "field_name": "dietary_requirements",
            "ticket": [],
            "field_def": {
                "label": "Dietary requirements",
                "type": "string",
                "mandatory": "false",
                "placeholder": "",
                "instruction": "",
                "minlength": "",
                "maxlength": "200",
                "information_source": "from_each_attendees",
                "option": [],
            },
        }],
    },
}
_REFUND = {"available": "true", "policy": {"cancel_before_event_starts": "7", "automatic": "false"}}
_FEE_RATES = [
    {"name": "eventbookings_service_fee_fixed", "value": "0.3"},
    {"name": "eventbookings_service_fee_percentage", "value": "3.4"},
    {"name": "payment_processing_fee_fixed", "value": "0"},
    {"name": "payment_processing_fee_percentage", "value": "0"},
]
_TAGS = [{"uuid": "", "name": "", "description": "", "url": "", "image": ""}]


# What the sparse profile always sends of each list's records; see the module docstring.
SESSION_SHAPE = RecordShape("session", key=("uuid",), required={"session_starts_on"}, never={"configuration"})
TICKET_SHAPE = RecordShape("ticket", key=("uuid",))
ATTENDEE_SHAPE = RecordShape("attendee", key=("uuid",), required={"email"}, omitted={"order_uuid"})
WAITING_SHAPE = RecordShape("waiting", key=("uuid",), required={"email"})
# The sparse profile lists no orders, so nothing of an order is ever thinned.
ORDER_SHAPE = RecordShape("order", key=("uuid",))
EVENT_SHAPE = RecordShape(
    "event", key=("uuid",), required={"attending_on", "updated_on"},
    nested={
        "sessions": RecordShape("event_sessions", key=(), required={"enabled", "session_lists"},
                                nested={"session_lists": SESSION_SHAPE}),
        "tickets": RecordShape("event_tickets", key=(),
                               required={"price_is_fee_inclusive", "price_is_tax_inclusive", "levels"},
                               nested={"levels": TICKET_SHAPE}),
    },
)
_NO_SESSIONS = {"enabled": "false", "session_lists": []}

# --------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------

# (sandbox, query, event of the path or None, request body) -> response
Handler = Callable[["EventBookingsSandbox", Mapping[str, list[str]], "Event | None", bytes], SandboxResponse]


class EventBookingsSandbox(SandboxApp):
    """The EventBookings API over synthetic data; see the module docstring.

    The token endpoint accepts only ``client_id`` and ``client_secret`` (by
    default the ones drawn for this process, ``DEMO_CLIENT_ID`` and
    ``DEMO_CLIENT_SECRET``).

    Test hooks besides HTTP: ``tokens_issued`` counts successful token grants,
    ``requests_served`` counts requests to the API (not to the token endpoint),
    ``revoke_tokens()`` makes every issued token unknown, ``waiting_list_count()``
    counts the entries on every waiting list, ``waiting_list(event_uuid)`` gives
    an event's entries as served (``created_ascending``). Advancing reports the
    entries added (``joined_waiting_list``) and removed (``left_waiting_list``).
    """

    vendor = "eventbookings"
    title = "EventBookings"
    fault_target = FaultTarget(
        paths=(re.escape(API_PREFIX + "/events"), re.escape(API_PREFIX + "/events/") + r"[^/]+"),
        records=("events",),
        key="uuid",
        date="updated_on",
        new_field="promo_code",
        retyped_field="enable_datetime_conversion",
        gone_field="ticket_instruction",
    )

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str = "small",
        start_date: dt.date | None = None,
        token_lifetime: float = 3600.0,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        profile: str = FULL,
    ) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        super().__init__(seed=seed, scale=scale, start_date=start_date, profile=profile)
        self.preset = SCALES[scale]
        self.token_lifetime = token_lifetime
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens_issued = 0
        self.requests_served = 0
        self._tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self.people = PersonPool(seed, self.preset.people)
        # Shared int objects for person indexes keep order rows small.
        self._person_ints = list(range(len(self.people)))
        self._lines: dict[Line, Line] = {}  # interned line items
        self._events: list[Event] = []  # in creation order
        self._events_by_uuid: dict[str, Event] = {}
        self._event_lists: dict[str, list[Event]] = {}
        self._next_order_number = ORDER_NUMBER_BASE
        self._build()

    # ---- public hooks ---------------------------------------------------

    def settings(self, base_url: str) -> dict[str, str]:
        return {
            "SOURCES__EVENTBOOKINGS__BASE_URL": base_url + API_PREFIX,
            "SOURCES__EVENTBOOKINGS__TOKEN_URL": base_url + TOKEN_PATH,
            "SOURCES__EVENTBOOKINGS__CLIENT_ID": self.client_id,
            "SOURCES__EVENTBOOKINGS__CLIENT_SECRET": self.client_secret,
        }

    def presented_token(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return None  # the token endpoint, or no API call at all
        scheme, _, token = _header(headers, "Authorization").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    @synchronized
    def expire_token(self, token: str) -> SandboxResponse:
        """The token expires now (if it was issued here) and the call gets the expired-token 401."""
        if token in self._tokens:
            self._tokens[token] = min(self._tokens[token], time.monotonic())
        return _error(401, "Unauthorized", {"WWW-Authenticate": EXPIRED_TOKEN_CHALLENGE})

    @synchronized
    def revoke_tokens(self) -> None:
        """Forget every token issued so far: the next API call with one answers 401."""
        self._tokens.clear()

    @property
    def recent_tokens(self) -> list[str]:
        """Tokens issued lately (live or just expired), so tests can look for leaks."""
        with self.lock:
            return list(self._tokens)

    @synchronized
    def waiting_list_count(self) -> int:
        """Entries on the waiting lists of all events."""
        return sum(len(event.waiting) for event in self._events)

    @synchronized
    def waiting_list(self, event_uuid: str) -> list[dict[str, Any]]:
        """An event's waiting list as ``GET .../waiting_list`` serves it; KeyError for an unknown uuid."""
        event = self._events_by_uuid[event_uuid.lower()]
        entries = self._served_list(event, "waiting_list", DEFAULT_ORDER_BY)
        return [self.profile.thin(self._waiting_json(event, entry), WAITING_SHAPE) for entry in entries]

    # ---- building -------------------------------------------------------

    def _build(self) -> None:
        rng = random.Random(f"eventbookings:{self.seed}:{self.scale}:build")
        self._org_key = _new_key(rng)
        self._org = self._org_json()
        now = _epoch(self.now)
        latest = now - HOUR
        low, high = -self.preset.history_days, EVENT_WINDOW_DAYS[1]
        placed: list[Order] = []
        for _ in range(self.preset.events):
            first_day = self.start_date + dt.timedelta(days=rng.randint(low, high))
            event = self._new_event(rng, first_day)
            lead = rng.randint(*CREATION_LEAD_DAYS) * DAY + rng.randrange(DAY)
            created = min(event.start - lead, _random_epoch(rng, latest - 30 * DAY, latest))
            updated = created if rng.random() < 0.5 else _random_epoch(rng, created, min(now, event.start))
            self._set_created(event, created, updated)
            self._add_event(event)
            if not event.published:
                continue
            closes = min(event.start, now)
            count = rng.randint(*self.preset.orders_per_event)
            for moment in sorted(_random_epoch(rng, created, closes) for _ in range(count)):
                order = self._place_order(rng, event, moment)
                if order is not None:
                    placed.append(order)
            for order in event.orders:
                if order.status != COMPLETED:
                    continue
                roll = rng.random()
                if roll < INITIAL_REFUND_RATE:
                    self._refund(event, order, _random_epoch(rng, order.created, closes))
                elif roll < INITIAL_REFUND_RATE + INITIAL_PARTIAL_REFUND_RATE:
                    self._partially_refund(rng, event, order, _random_epoch(rng, order.created, closes))
        self._number(placed)
        self._record_check_ins()
        self._build_waiting_lists(now)

    def _new_event(self, rng: random.Random, first_day: dt.date) -> Event:
        region = rng.randrange(len(REGIONS))
        zone = ZoneInfo(REGIONS[region][0])
        city = REGIONS[region][2]
        adjective, topic, kind = rng.choice(ADJECTIVES), rng.choice(TOPICS), rng.choice(KINDS)
        name = f"{adjective} {topic} {kind}"
        hours = rng.randint(*EVENT_HOURS)
        local_start = dt.time(rng.randint(*EVENT_LOCAL_START_HOURS), rng.choice(EVENT_START_MINUTES))
        days = 2 if rng.random() < TWO_DAY_RATE else 1
        day_starts = [
            _epoch(dt.datetime.combine(first_day + dt.timedelta(days=d), local_start, tzinfo=zone))
            for d in range(days)
        ]
        start, end = day_starts[0], day_starts[-1] + hours * HOUR
        venue = rng.randrange(len(VENUES))
        event = Event(
            key=_new_key(rng),
            name=name,
            base_name=name,
            description=(f"{name} at the {VENUES[venue]}, {city}: {hours} hours"
                         f"{' on each of two days' if days == 2 else ''} of {topic.lower()}."),
            category=rng.randrange(len(CATEGORIES)),
            region=region,
            venue=venue,
            street_number=rng.randint(1, 400),
            street=rng.randrange(len(STREETS)),
            start=start,
            end=end,
            created=0,
            updated=0,
            published=rng.random() >= DRAFT_RATE,
            listed=rng.random() >= UNLISTED_RATE,
            short_prices=rng.random() < SHORT_PRICE_RATE,
            check_in_rate=rng.uniform(*CHECK_IN_RATE),
        )
        event.sessions = self._make_sessions(rng, [s - start for s in day_starts], hours)
        event.levels = self._make_levels(rng, event)
        event.sold = [[0] * len(level.variations) for level in event.levels]
        return event

    def _make_sessions(self, rng: random.Random, day_offsets: list[int], hours: int) -> list[Session]:
        if rng.random() >= SESSION_EVENT_RATE:
            return []
        count = rng.randint(*SESSIONS_PER_EVENT)
        names = rng.sample(SESSION_NAMES, count)
        sessions = []
        for position in range(count):
            day = position % len(day_offsets)
            on_day = [p for p in range(count) if p % len(day_offsets) == day]
            slot = hours * HOUR // len(on_day)
            length = min(slot, rng.choice((45, 60, 60, 90, 120)) * 60)
            kind = SESSION_TYPES[0] if position == 0 or rng.random() >= OPTIONAL_SESSION_RATE else SESSION_TYPES[1]
            sessions.append(Session(
                key=_new_key(rng),
                position=position,
                type=kind,
                name=names[position],
                description=f"{names[position]} ({kind}).",
                offset=day_offsets[day] + on_day.index(position) * slot,
                seconds=length,
                created=0,
                updated=0,
            ))
        return sessions

    def _make_levels(self, rng: random.Random, event: Event) -> list[Level]:
        high = self.preset.orders_per_event[1]
        extras = rng.sample(OPTIONAL_LEVELS, rng.randint(1, 3))
        kinds = [GENERAL] + [kind for kind in OPTIONAL_LEVELS if kind in extras]
        general = 0 if rng.random() < FREE_ADMISSION_RATE else rng.randint(15, 120) * 100 + rng.choice((0, 0, 0, 50, 95))
        required = tuple(s.position for s in event.sessions if s.type == SESSION_TYPES[0])
        optional = [s.position for s in event.sessions if s.type == SESSION_TYPES[1]]
        symbol, short = event.symbol, event.short_prices
        levels = []
        for position, kind in enumerate(kinds):
            _, quantities, max_per_customer = LEVEL_KINDS[kind]
            if kind == GENERAL:
                variations = [("", general)]
                quantity, included, description = 10 * rng.randint(high * 3 // 10, high * 6 // 10), 1, "Entry to the event."
                admits = tuple(p for p in optional if rng.random() < OPTIONAL_ADMISSION_RATE)
            elif kind == VIP:
                gold = max(general, 2500) * 3 // 500 * 500
                variations = [("Gold", gold), ("Silver", gold * 2 // 3 // 100 * 100)]
                quantity, included, description = 10 * rng.randint(high // 10, high * 2 // 10), 1, "Best seats and a drink on arrival."
                admits = tuple(optional)
            elif kind == GROUP:
                price = (rng.randint(1000, 2500) * 100 if rng.random() < BIG_GROUP_RATE
                         else max(general, 2000) * 9 // 2 // 100 * 100)
                variations = [("", price)]
                quantity, included, description = rng.randint(max(2, high // 8), max(4, high // 4)), 5, "Entry for five people."
                admits = tuple(p for p in optional if rng.random() < OPTIONAL_ADMISSION_RATE)
            else:
                variations = [("", 0)]
                quantity, included, description = 10 * rng.randint(high // 10, high * 3 // 10), 1, "Give what you like; entry included."
                admits = ()
            levels.append(Level(
                key=_new_key(rng),
                position=position,
                name=kind,
                description=description,
                category="donation" if kind == DONATION else "ticket",
                quantity=max(quantity, 10 if included == 1 else 2),
                max_per_customer=max_per_customer,
                included=included,
                variations=tuple(
                    Variation(_new_key(rng), name, price, "" if kind == DONATION else _price_text(price, symbol, short))
                    for name, price in variations
                ),
                sessions=tuple(sorted(required + admits)),
                line_quantities=quantities,
            ))
        return levels

    @staticmethod
    def _set_created(event: Event, created: int, updated: int) -> None:
        event.created, event.updated = created, updated
        for session in event.sessions:
            session.created = session.updated = created

    def _add_event(self, event: Event) -> None:
        bits = _mix(self.seed, event.key >> 64, event.key & _MASK64, _WAITING_SALT)
        event.waiting_list = bits % 1000 < WAITING_LIST_PER_MILLE
        self._events.append(event)
        self._events_by_uuid[_uuid(event.key)] = event
        self._events_changed()

    def _events_changed(self) -> None:
        self._event_lists.clear()

    # ---- orders ---------------------------------------------------------

    def _place_order(self, rng: random.Random, event: Event, moment: int) -> Order | None:
        """A synthetic order at ``moment``; None when the tickets drawn are sold out."""
        cancelled = rng.random() < CANCELLED_ORDER_RATE
        lines: list[Line] = []
        first = self._draw_level(rng, event, None)
        if first is not None:
            lines.append(self._draw_line(rng, event, first))
            if rng.random() < SECOND_LINE_RATE:
                second = self._draw_level(rng, event, first)
                if second is not None:
                    lines.append(self._draw_line(rng, event, second))
        lines = [line for line in lines if line[2] > 0]
        if not lines:
            return None
        places = sum(q * event.levels[lp].included for lp, _, q, _ in lines)
        ints = self._person_ints
        pool = len(ints)
        drawn = rng.sample(range(pool), places) if places <= pool else [rng.randrange(pool) for _ in range(places)]
        persons = tuple(ints[i] for i in drawn)
        buyer = persons[0] if rng.random() < BUYER_ATTENDS_RATE else ints[rng.randrange(pool)]
        subtotal = sum(q * unit for _, _, q, unit in lines)
        discount = _discount(subtotal) if subtotal > 0 and rng.random() < DISCOUNT_RATE else 0
        if subtotal - discount > 0:
            roll = rng.randrange(100)
            payment = next(m for m, w in zip(PAYMENT_METHODS, PAYMENT_WEIGHTS, strict=True) if roll < w)
        else:
            payment = FREE_PAYMENT
        order = Order(
            key=_new_key(rng),
            buyer=buyer,
            persons=persons,
            lines=tuple(self._lines.setdefault(line, line) for line in lines),
            created=moment,
            updated=moment,
            status=CANCELLED if cancelled else COMPLETED,
            discount=discount,
            payment=payment,
        )
        event.orders.append(order)
        self._count_sold(event, order, 1)
        event.orders_changed()
        return order

    @staticmethod
    def _remaining(event: Event, level: int) -> int:
        return event.levels[level].quantity - sum(event.sold[level])

    def _draw_level(self, rng: random.Random, event: Event, other_than: int | None) -> int | None:
        choices = [lv.position for lv in event.levels if lv.position != other_than]
        weights = [LEVEL_KINDS[event.levels[p].name][0] for p in choices]
        level = rng.choices(choices, weights)[0]
        if self._remaining(event, level) > 0:
            return level
        # Sold out: buyers settle for any level left, in display order.
        return next((p for p in choices if self._remaining(event, p) > 0), None)

    def _draw_line(self, rng: random.Random, event: Event, position: int) -> Line:
        level = event.levels[position]
        variation = 0 if len(level.variations) == 1 else (0 if rng.random() < 0.4 else 1)
        quantity = min(rng.choice(level.line_quantities), level.max_per_customer, self._remaining(event, position))
        if level.category == "donation":
            unit = rng.randint(*DONATION_DOLLARS) * 100
        else:
            unit = level.variations[variation].price
        return (position, variation, quantity, unit)

    @staticmethod
    def _live_units(order: Order) -> Iterator[tuple[int, int, int]]:
        """(line position, level position, live units) of each line."""
        if order.status not in LIVE_ORDER_STATUSES:
            return
        for index, (level, _, quantity, _) in enumerate(order.lines):
            refunded = order.refund_units if index == order.refund_line else 0
            yield index, level, quantity - refunded

    def _count_sold(self, event: Event, order: Order, sign: int) -> None:
        for index, level, units in self._live_units(order):
            event.sold[level][order.lines[index][1]] += sign * units

    def _refund(self, event: Event, order: Order, moment: int) -> None:
        self._count_sold(event, order, -1)
        order.status = REFUNDED
        order.refunded_on = order.updated = moment
        self._count_sold(event, order, 1)
        event.orders_changed()

    def _partially_refund(self, rng: random.Random, event: Event, order: Order, moment: int) -> bool:
        """Refunds some units of one line; False when the order has a single unit, or when those
        units are worth what the buyer paid (a discount makes that possible): no partial refund."""
        lines = order.lines
        if len(lines) == 1 and lines[0][2] == 1:
            return False
        index = rng.randrange(len(lines))
        quantity = lines[index][2]
        units = rng.randint(1, quantity - 1) if quantity > 1 else 1
        if lines[index][3] * units >= order.total:
            return False
        self._count_sold(event, order, -1)
        order.status = PARTIALLY_REFUNDED
        order.refund_line = index
        order.refund_units = units
        order.refunded_on = order.updated = moment
        self._count_sold(event, order, 1)
        event.orders_changed()
        return True

    def _number(self, orders: list[Order]) -> None:
        """Order numbers follow placement time."""
        for order in sorted(orders, key=lambda o: (o.created, o.key)):
            order.number = self._next_order_number
            self._next_order_number += 1

    def _cancel_event(self, event: Event) -> None:
        now = _epoch(self.now)
        event.cancelled = True
        event.updated = now
        for order in event.orders:
            if order.status in LIVE_ORDER_STATUSES:
                self._refund(event, order, now)
        event.orders_changed()
        self._events_changed()

    # ---- attendees and check-in ------------------------------------------

    @staticmethod
    def _order_attendees(event: Event, order: Order) -> Iterator[AttendeeRow]:
        if order.status not in LIVE_ORDER_STATUSES or event.cancelled:
            return
        place = 0
        for index, (level, _, quantity, _) in enumerate(order.lines):
            included = event.levels[level].included
            kept = quantity - (order.refund_units if index == order.refund_line else 0)
            for slot in range(place, place + kept * included):
                yield order, slot, index
            place += quantity * included

    def _attendee_key(self, row: AttendeeRow) -> int:
        order, place, _ = row
        return _derived_key(order.key, _ATTENDEE_SALT, place)

    def _check_in_hash(self, order: Order, place: int) -> int:
        return _mix(self.seed, order.key >> 64, order.key & _MASK64, place, _CHECK_IN_SALT)

    def _record_check_ins(self) -> int:
        """Check in the attendees of events the clock has just passed the start of."""
        now = _epoch(self.now)
        checked = 0
        for event in self._events:
            if event.check_in_threshold is not None or event.cancelled or event.start > now:
                continue
            hashes = sorted(
                self._check_in_hash(order, place)
                for order in event.orders for _, place, _ in self._order_attendees(event, order)
            )
            count = round(event.check_in_rate * len(hashes))
            event.check_in_threshold = hashes[count - 1] if count else -1
            event.check_in_until = min(event.start + CHECK_IN_WINDOW[1], now)
            checked += count
        return checked

    def _checked_in_at(self, event: Event, order: Order, place: int) -> int | None:
        threshold = event.check_in_threshold
        if threshold is None:
            return None
        bits = self._check_in_hash(order, place)
        if bits > threshold:
            return None
        low = event.start + CHECK_IN_WINDOW[0]
        span = max(event.check_in_until - low, 0)
        return low + _mix(bits, 1) % (span + 1)

    # ---- waiting lists ----------------------------------------------------------

    def _waiting_rng(self, part: str) -> random.Random:
        return random.Random(f"eventbookings:{self.seed}:{self.scale}:waiting_list:{part}")

    def _build_waiting_lists(self, now: int) -> None:
        rng = self._waiting_rng("build")
        for event in self._events:
            if event.waiting_list and event.published:
                count = rng.randint(*INITIAL_WAITING)
                self._add_waiting(rng, event, count, event.created, min(event.start, now))

    def _add_waiting(self, rng: random.Random, event: Event, count: int, low: int, high: int) -> int:
        """Up to ``count`` people of the pool join between ``low`` and ``high``; how many did."""
        if count <= 0:
            return 0
        taken = {i for order in event.orders for i in (order.buyer, *order.persons)}
        listed = {entry.email.strip().casefold() for entry in event.waiting}
        people = self.people
        added = 0
        for moment in sorted(_random_epoch(rng, low, high) for _ in range(count)):
            quantity = rng.choice(WAITING_QUANTITIES)
            for _ in range(PERSON_DRAW_TRIES):
                index = rng.randrange(len(people))
                person = people[index]
                email = person.email.strip().casefold()
                if index not in taken and email not in listed:
                    break
            else:
                continue
            listed.add(email)
            self._join_waiting(event, person.email, person.first_name, person.last_name, quantity, moment)
            added += 1
        return added

    @staticmethod
    def _join_waiting(event: Event, email: str, first_name: str, last_name: str, quantity: int,
                      moment: int) -> WaitingEntry:
        entry = WaitingEntry(_derived_key(event.key, _WAITING_SALT, event.waiting_serial), email, first_name,
                             last_name, quantity, moment)
        event.waiting_serial += 1
        event.waiting.append(entry)
        event.waiting_changed()
        return entry

    def _move_waiting_lists(self, since: int, now: int) -> tuple[int, int]:
        """A day on the waiting lists of events not yet started: (joined, left)."""
        rng = self._waiting_rng(f"day:{self.today.isoformat()}")
        joined = left = 0
        for event in self._events:
            if not event.waiting_list or not event.published or event.cancelled or event.start <= now:
                continue
            staying = [entry for entry in event.waiting if rng.random() >= DAILY_LEAVE_RATE]
            if len(staying) < len(event.waiting):
                left += len(event.waiting) - len(staying)
                event.waiting = staying
                event.waiting_changed()
            count = rng.randint(*DAILY_WAITING)
            joined += self._add_waiting(rng, event, count, max(since + 1, event.created), now)
        return joined, left

    # ---- sorted lists (cached until the rows change) ---------------------------

    def _sorted_events(self, order_by: str) -> list[Event]:
        rows = self._event_lists.get(order_by)
        if rows is None:
            primary: Callable[[Event], Any] = {
                "created": lambda e: e.created,
                "starting": lambda e: e.start,
                "name": lambda e: e.name.casefold(),
            }[order_by.split("_")[0]]
            rows = _sorted(self._events, primary, lambda e: e.key, order_by.endswith("_descending"))
            self._event_lists[order_by] = rows
        return rows

    def _event_list(self, event: Event, kind: str, order_by: str) -> list[Any]:
        rows = event.lists.get((kind, order_by))
        if rows is not None:
            return rows
        descending = order_by.endswith("_descending")
        by_name = order_by.startswith("name")
        if kind == "sessions":
            primary: Callable[[Any], Any] = (
                (lambda s: s.name.casefold()) if by_name
                else (lambda s: s.offset) if order_by == "starting"
                else (lambda s: (s.created, s.position))
            )
            rows = _sorted(event.sessions, primary, lambda s: s.key, descending)
        elif kind == "tickets":
            primary = (lambda lv: lv.name.casefold()) if by_name else (lambda lv: lv.position)
            rows = _sorted(event.levels, primary, lambda lv: lv.key, descending)
        elif kind == "orders":
            primary = (lambda o: o.number) if by_name else (lambda o: o.created)
            rows = _sorted(event.orders, primary, lambda o: o.key, descending)
        elif kind == "waiting_list":
            primary = (
                (lambda w: (w.last_name.casefold(), w.first_name.casefold())) if by_name
                else (lambda w: w.created)
            )
            rows = _sorted(event.waiting, primary, lambda w: w.key, descending)
        else:
            attendees = [row for order in event.orders for row in self._order_attendees(event, order)]
            keys = {(row[0].key, row[1]): self._attendee_key(row) for row in attendees}
            if by_name:
                people = self.people

                def primary(row: AttendeeRow) -> Any:
                    person = people[row[0].persons[row[1]]]
                    return person.last_name.casefold(), person.first_name.casefold()
            else:
                def primary(row: AttendeeRow) -> Any:
                    return row[0].created
            rows = _sorted(attendees, primary, lambda row: keys[(row[0].key, row[1])], descending)
        event.lists[(kind, order_by)] = rows
        return rows

    # ---- simulated time -------------------------------------------------

    def _advance_one_day(self) -> dict[str, int]:
        rng = random.Random(f"eventbookings:{self.seed}:{self.scale}:day:{self.today.isoformat()}")
        now = _epoch(self.now)
        since = now - DAY
        counts = {
            "new_events": self._add_new_events(rng, since, now),
            "changed_events": self._change_events(rng, since, now),
        }
        upcoming = [e for e in self._events if e.published and not e.cancelled and e.start > now]
        counts["new_orders"] = self._add_orders(rng, upcoming, since, now)
        counts["refunds"], counts["partial_refunds"] = self._refund_some(rng, upcoming, since, now)
        counts["cancelled_events"] = self._cancel_some(rng, upcoming)
        counts["check_ins"] = self._record_check_ins()
        counts["joined_waiting_list"], counts["left_waiting_list"] = self._move_waiting_lists(since, now)
        return counts

    def _add_new_events(self, rng: random.Random, since: int, now: int) -> int:
        count = rng.randint(*self.preset.new_events_per_day)
        for _ in range(count):
            event = self._new_event(rng, self.today + dt.timedelta(days=rng.randint(*NEW_EVENT_START_DAYS)))
            created = _random_epoch(rng, since + 1, now)
            self._set_created(event, created, created)
            self._add_event(event)
        return count

    def _change_events(self, rng: random.Random, since: int, now: int) -> int:
        future = [e for e in self._events if not e.cancelled and e.start > now]
        count = min(rng.randint(*self.preset.changed_events_per_day), len(future))
        for event in rng.sample(future, count):
            moment = _random_epoch(rng, max(since + 1, event.created), now)
            if rng.random() < 0.5:
                event.name = f"{event.base_name} ({rng.choice(RENAME_TAGS)})"
            else:
                shift = rng.randint(*RESCHEDULE_HOURS) * HOUR * rng.choice((-1, 1))
                if event.start + shift <= now + DAY:
                    shift = abs(shift)
                event.start += shift
                event.end += shift
                for session in event.sessions:
                    session.updated = moment
            event.updated = moment
        if count:
            self._events_changed()
        return count

    def _add_orders(self, rng: random.Random, upcoming: list[Event], since: int, now: int) -> int:
        placed: list[Order] = []
        for event in upcoming:
            count = rng.randint(*self.preset.daily_orders_per_event)
            opens = max(since + 1, event.created)
            for moment in sorted(_random_epoch(rng, opens, now) for _ in range(count)):
                order = self._place_order(rng, event, moment)
                if order is not None:
                    placed.append(order)
        self._number(placed)
        return len(placed)

    def _refund_some(self, rng: random.Random, upcoming: list[Event], since: int, now: int) -> tuple[int, int]:
        refunds = partial = 0
        for event in upcoming:
            completed = [o for o in event.orders if o.status == COMPLETED]
            count = min(int(len(completed) * DAILY_REFUND_RATE + rng.random()), len(completed))
            for order in rng.sample(completed, count):
                self._refund(event, order, _random_epoch(rng, max(since + 1, order.created), now))
                refunds += 1
            completed = [o for o in completed if o.status == COMPLETED]
            count = min(int(len(completed) * DAILY_PARTIAL_REFUND_RATE + rng.random()), len(completed))
            for order in rng.sample(completed, count):
                moment = _random_epoch(rng, max(since + 1, order.created), now)
                partial += self._partially_refund(rng, event, order, moment)
        return refunds, partial

    def _cancel_some(self, rng: random.Random, upcoming: list[Event]) -> int:
        candidates = [e for e in upcoming if not e.cancelled]
        count = min(int(self.preset.cancelled_events_per_day + rng.random()), len(candidates))
        for event in rng.sample(candidates, count):
            # The same path as POST /events/{uuid}/cancel, so both behave alike.
            self._post_cancel({}, event)
        return count

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
        path = path.rstrip("/") or "/"
        method = method.upper()
        if path == TOKEN_PATH:
            if method != "POST":
                return _error(405, "Method not allowed", {"Allow": "POST"})
            return self._token(headers, body)
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            return _error(404, "Not found")
        self.requests_served += 1
        route = _route(path[len(API_PREFIX):])
        if route is None:
            return _error(404, "Not found")
        routes, event_uuid = route
        handler = routes.get(method)
        if handler is None:
            return _error(405, "Method not allowed", {"Allow": ", ".join(sorted(routes))})
        denied = self._authenticate(headers)
        if denied is not None:
            return denied
        event = None
        if event_uuid is not None:
            event = self._events_by_uuid.get(event_uuid.lower())
            if event is None:
                return _error(404, "Event not found")
        try:
            return handler(self, query, event, body)
        except ApiError as error:
            return error.response()

    def _token(self, headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        media_type = _header(headers, "Content-Type").split(";")[0].strip().lower()
        if media_type != FORM_CONTENT_TYPE:
            return _oauth_error("invalid_request")
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return _oauth_error("invalid_request")
        if any(len(values) > 1 for values in fields.values()):
            return _oauth_error("invalid_request")
        client_id = fields.get("client_id", [""])[0]
        client_secret = fields.get("client_secret", [""])[0]
        known_client = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        right_secret = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        if not (known_client and right_secret):
            return _oauth_error("invalid_client")
        if fields.get("grant_type", [""])[0] != GRANT_TYPE:
            return _oauth_error("unsupported_grant_type")
        issued = time.monotonic()
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp > issued - EXPIRED_TOKEN_MEMORY}
        token = secrets.token_urlsafe(48)
        self._tokens[token] = issued + self.token_lifetime
        self.tokens_issued += 1
        return SandboxResponse.json(
            {
                "access_token": token,
                "expires_in": max(1, round(self.token_lifetime)),
                "token_type": "Bearer",
                "scope": TOKEN_SCOPE,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _authenticate(self, headers: Mapping[str, str]) -> SandboxResponse | None:
        scheme, _, token = _header(headers, "Authorization").strip().partition(" ")
        expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None:
            challenge = INVALID_TOKEN_CHALLENGE
        elif time.monotonic() >= expiry:
            challenge = EXPIRED_TOKEN_CHALLENGE
        else:
            return None
        return _error(401, "Unauthorized", {"WWW-Authenticate": challenge})

    # ---- endpoints --------------------------------------------------------

    def _get_events(self, query: Mapping[str, list[str]], _: Event | None,
                    _body: bytes = b"") -> SandboxResponse:
        position, rows, order_by = _paging(query)
        events: Sequence[Event] = self._sorted_events(order_by or DEFAULT_ORDER_BY)
        status = _param(query, "status")
        if status is not None:
            status = status.lower()
            if status not in STATUS_FILTERS:
                raise ApiError(400, f"status must be one of {', '.join(STATUS_FILTERS)}")
            now = _epoch(self.now)
            if status == "published":
                events = [e for e in events if e.published]
            elif status == "live":
                events = [e for e in events if self._live(e, now)]
            else:
                events = [e for e in events if not e.published]
        currency = _param(query, "currency")
        if currency is not None:
            events = [e for e in events if e.currency == currency.upper()]
        search = _param(query, "search_q")
        if search is not None:
            needle = search.casefold()
            events = [e for e in events if needle in e.name.casefold()]
        return SandboxResponse.json({
            "events": [self._served_event(e) for e in events[position:position + rows]],
            "pagination": _pagination(len(events), position, rows, order_by),
        })

    def _get_event(self, _: Mapping[str, list[str]], event: Event | None,
                   _body: bytes = b"") -> SandboxResponse:
        assert event is not None
        return SandboxResponse.json({"events": [self._served_event(event)]})

    def _get_sessions(self, query: Mapping[str, list[str]], event: Event | None,
                      _body: bytes = b"") -> SandboxResponse:
        assert event is not None
        position, rows, order_by = _paging(query)
        sessions = self._served_list(event, "sessions", order_by or DEFAULT_ORDER_BY)
        page = sessions[position:position + rows]
        groups = []
        for kind in SESSION_TYPES:
            items = [
                self.profile.thin(self._session_json(event, s), SESSION_SHAPE) for s in page if s.type == kind
            ]
            if items:
                groups.append({"type": kind, "session_lists": items})
        return SandboxResponse.json({
            "sessions": groups,
            "pagination": _pagination(len(sessions), position, rows, order_by),
        })

    def _child_list(self, query: Mapping[str, list[str]], event: Event | None, kind: str,
                    to_json: Callable[[Event, Any], dict[str, Any]], shape: RecordShape) -> SandboxResponse:
        assert event is not None
        position, rows, order_by = _paging(query)
        items = self._served_list(event, kind, order_by or DEFAULT_ORDER_BY)
        page = items[position:position + rows]
        return SandboxResponse.json({
            kind: [self.profile.thin(to_json(event, item), shape) for item in page],
            "pagination": _pagination(len(items), position, rows, order_by),
        })

    def _served_list(self, event: Event, kind: str, order_by: str) -> list[Any]:
        """An event's child list as served: none for a bare event, and never orders, in the sparse profile."""
        if self.profile.bare(event.key) or (kind == "orders" and self.profile.sparse):
            return []
        return self._event_list(event, kind, order_by)

    def _get_tickets(self, query: Mapping[str, list[str]], event: Event | None,
                     _body: bytes = b"") -> SandboxResponse:
        assert event is not None
        sold = self._level_sold(event)
        return self._child_list(
            query, event, "tickets", lambda e, lv: self._level_json(e, lv, sold), TICKET_SHAPE,
        )

    def _get_attendees(self, query: Mapping[str, list[str]], event: Event | None,
                       _body: bytes = b"") -> SandboxResponse:
        return self._child_list(query, event, "attendees", self._attendee_json, ATTENDEE_SHAPE)

    def _get_orders(self, query: Mapping[str, list[str]], event: Event | None,
                    _body: bytes = b"") -> SandboxResponse:
        return self._child_list(query, event, "orders", self._order_json, ORDER_SHAPE)

    def _post_cancel(self, _: Mapping[str, list[str]], event: Event | None,
                     _body: bytes = b"") -> SandboxResponse:
        assert event is not None
        if event.cancelled:
            raise ApiError(400, "Event is already cancelled")
        self._cancel_event(event)
        return SandboxResponse.json({"statusCode": 200, "message": "Event cancelled"})

    def _get_waiting_list(self, query: Mapping[str, list[str]], event: Event | None,
                          _body: bytes = b"") -> SandboxResponse:
        return self._child_list(query, event, "waiting_list", self._waiting_json, WAITING_SHAPE)

    def _post_waiting_list(self, _: Mapping[str, list[str]], event: Event | None,
                           body: bytes = b"") -> SandboxResponse:
        assert event is not None
        email, first_name, last_name, quantity = _waiting_request(body)
        now = _epoch(self.now)
        if not event.waiting_list:
            raise ApiError(400, "Waiting list is not enabled for this event")
        if event.cancelled:
            raise ApiError(400, "Event is cancelled")
        if not event.published:
            raise ApiError(400, "Event is not published")
        if event.start <= now:
            raise ApiError(400, "Booking has closed for this event")
        wanted = email.casefold()
        if any(entry.email.strip().casefold() == wanted for entry in event.waiting):
            raise ApiError(400, "email address is already on the waiting list")
        entry = self._join_waiting(event, email, first_name, last_name, quantity, now)
        served = self.profile.thin(self._waiting_json(event, entry), WAITING_SHAPE)
        return SandboxResponse.json({"waiting_list": [served]})

    # ---- payload builders -------------------------------------------------

    @staticmethod
    def _live(event: Event, now: int) -> bool:
        return event.start <= now < event.end and not event.cancelled

    def _stats(self, event: Event) -> EventStats:
        if event.stats is None:
            orders = revenue = coupons = 0
            for order in event.orders:
                if order.status == CANCELLED:
                    continue
                orders += 1
                revenue += order.total - order.refunded_amount
                coupons += order.discount > 0 and order.status != REFUNDED
            units = sum(map(sum, event.sold))
            event.stats = EventStats(orders, revenue, coupons, units)
        return event.stats

    @staticmethod
    def _level_sold(event: Event) -> list[tuple[str, list[str]]]:
        return [(str(sum(sold)), [str(n) for n in sold]) for sold in event.sold]

    def _org_json(self) -> dict[str, Any]:
        org_uuid = _uuid(self._org_key)
        link = {"uuid": _uuid(_derived_key(self._org_key, _ORG_SALT)), "created_on": "", "updated_on": ""}
        return {
            "uuid": org_uuid,
            "name": "Harbourside Events Co",
            "slug": "harbourside-events",
            "info": "Live music, food and community events.",
            "image": _uuid(_derived_key(self._org_key, _ORG_SALT, 1)),
            "metrics": [
                {"name": "followed_by_me", "value": "0"},
                {"name": "follows_me", "value": str(120 + self.seed % 800)},
                {"name": "review_count", "value": str(40 + self.seed % 200)},
                {"name": "review_rating_average", "value": "4.4"},
            ],
            "interactions": {
                "preferences": [
                    {"name": "allow_people_to_contact_my_organisation", "value": "true"},
                    {"name": "allow_people_to_follow_my_organisation", "value": "true"},
                ],
                "follows": link,
                "followed_by": link,
                "mutes": link,
            },
        }

    def _venue(self, event: Event) -> dict[str, Any]:
        _, _, city, state, country, post_code, latitude, longitude = REGIONS[event.region]
        venue = VENUES[event.venue]
        return {
            "name": f"{city} {venue}",
            "image": f"{CDN_BASE}/venues/{event.region}-{event.venue}.jpg",
            "url": f"{SITE_BASE}/venues/{city.lower().replace(' ', '-')}-{venue.lower().replace(' ', '-')}",
            "latitude": latitude,
            "longitude": longitude,
            "address": {
                "address_line1": venue,
                "address_line2": f"{event.street_number} {STREETS[event.street]}",
                "country": country,
                "state": state,
                "city": city,
                "post_code": post_code,
            },
        }

    def _served_event(self, event: Event) -> dict[str, Any]:
        """The event as the profile sends it: a bare one lists no sessions or ticket levels."""
        record = self._event_json(event)
        if self.profile.bare(event.key):
            record = {**record, "sessions": _NO_SESSIONS, "tickets": {**record["tickets"], "levels": []}}
        return self.profile.thin(record, EVENT_SHAPE)

    def _event_json(self, event: Event) -> dict[str, Any]:
        now = _epoch(self.now)
        zone = event.zone
        event_uuid = _uuid(event.key)
        start, end, created = _pair(event.start, zone), _pair(event.end, zone), _pair(event.created, zone)
        stats = self._stats(event)
        sold = self._level_sold(event)
        currency = event.currency
        tax_code, tax_rate = TAXES[currency]
        tax = [{"name": "code", "value": tax_code}, {"name": "rate", "value": tax_rate}]
        page = f"{SITE_BASE}/events/{event_uuid}"
        bits = _mix(self.seed, event.key & _MASK64)
        coupon_uuid = _uuid(_derived_key(event.key, _COUPON_SALT))
        interaction = {"uuid": _uuid(_derived_key(event.key, _ORG_SALT)), "created_on": "", "updated_on": ""}
        return {
            "uuid": event_uuid,
            "status": "cancelled" if event.cancelled else "active",
            "extended_status": [
                {"name": "publishing", "value": "Published" if event.published else "Draft"},
                {"name": "listing", "value": "Listed" if event.listed else "Unlisted"},
                {"name": "live", "value": _flag(self._live(event, now))},
                {"name": "ended", "value": _flag(event.end <= now)},
                {"name": "suspended", "value": "false"},
                {"name": "cancelled", "value": _flag(event.cancelled)},
            ],
            "name": event.name,
            "display_name": event.name,
            "description": event.description,
            "banner": [
                {"name": "banner", "image": f"{CDN_BASE}/events/{event_uuid}/banner.jpg", "primary": "true"},
                {"name": "thumbnail", "image": f"{CDN_BASE}/events/{event_uuid}/thumb.jpg", "primary": "false"},
            ],
            "resources": _RESOURCES,
            "links": [
                {"name": "website", "value": page},
                {"name": "facebook", "value": "https://facebook.example.com/harbourside-events"},
                {"name": "instagram", "value": "https://instagram.example.com/harbourside-events"},
                {"name": "twitter", "value": "https://twitter.example.com/harbourside-events"},
                {"name": "linkedin", "linkedin": "https://linkedin.example.com/company/harbourside-events"},
            ],
            "timezone": REGIONS[event.region][0],
            "currency": currency,
            "enable_datetime_conversion": "false",
            "tax": tax,
            "created_on": _stamp(event.created),
            "updated_on": _stamp(event.updated),
            "attending_on": [start, end],
            "org": self._org,
            "coupons": [{
                "uuid": coupon_uuid,
                "name": "Friends of the venue",
                "code": "FRIENDS10",
                "discount_amount": str(DISCOUNT_PERCENT),
                "discount_type": "percentage",
                "starts_on": created,
                "ends_on": start,
                "uses_per_coupon": 0,
                "total_used": stats.coupon_uses,
                "uses_per_customer": 1,
                "status": 0,
            }],
            "early_bird_discount": _EARLY_BIRD,
            "merchandise": {"products": []},
            "event_settings_reviewed": event.published,
            "settings": {
                "booking_starts_on": {"immediately": "true", **created,
                                      "hide_ticket_until_booking_start": "false", "level": "event"},
                "booking_ends_on": {"continue_until_event_ends": "false", **start, "level": "event"},
                "event_capacity": sum(lv.quantity * lv.included for lv in event.levels),
                **_EVENT_SETTINGS,
                "waiting_list": _WAITING_LIST_ON if event.waiting_list else _WAITING_LIST_OFF,
            },
            "ticket_instruction": "Show your digital pass at the door.",
            "custom_attributes": _CUSTOM_ATTRIBUTES,
            "occurrence": {
                "type": "schedule",
                "attributes": [{"starts_on": start, "event_duration": (event.end - event.start) // 60}],
            },
            "configuration": {
                "type": "venue_event",
                "attributes": [{"name": "venue", "value": self._venue(event)}, _ORDER_FORM],
            },
            "tickets": {
                "price_is_fee_inclusive": "false",
                "price_is_tax_inclusive": "true",
                "levels": [self._level_json(event, level, sold) for level in event.levels],
            },
            "listing": {
                "enabled": _flag(event.listed),
                "categories": [{
                    "uuid": _uuid(_derived_key(self._org_key, _ORG_SALT, 100 + event.category)),
                    "name": CATEGORIES[event.category],
                    "description": "",
                    "url": f"{SITE_BASE}/categories/{event.category}",
                    "image": "",
                }],
                "tags": _TAGS,
            },
            "sessions": {
                "enabled": _flag(bool(event.sessions)),
                "session_lists": [
                    self._session_json(event, s) for s in self._event_list(event, "sessions", DEFAULT_ORDER_BY)
                ],
            },
            "refund": _REFUND,
            "metrics": [
                {"name": "shared_count", "value": str(bits % 500)},
                {"name": "saved_count", "value": str((bits >> 16) % 900)},
                {"name": "review_count", "value": str((bits >> 32) % 60)},
                {"name": "review_rating_average", "value": f"{3 + (bits >> 40) % 21 / 10:.1f}"},
            ],
            "fees": {
                "currency": currency,
                "pass_on": "true",
                "rate": _FEE_RATES,
                "price_is_tax_inclusive": "true",
                "tax": tax,
            },
            "activities": [
                {"name": name, "value": value,
                 "meta": {"start_date": created["utc"][:10], "end_date": end["utc"][:10]}}
                for name, value in (
                    ("events_hosted", str(len(self._events))),
                    ("revenue_earned", f"{stats.revenue // 100}.{stats.revenue % 100:02d}"),
                    ("orders_received", str(stats.orders)),
                    ("pages_viewed", f"{stats.orders * 23 + (bits >> 48) % 500:,}"),
                    ("tickets_sold", str(stats.units)),
                )
            ],
            "interactions": {"saves": interaction, "shares": interaction},
        }

    def _level_json(self, event: Event, level: Level, sold: list[tuple[str, list[str]]]) -> dict[str, Any]:
        zone = event.zone
        level_sold, variation_sold = sold[level.position]
        booking = {
            "booking_starts_on": {"immediately": "true", "hide_ticket_until_booking_start": "false",
                                  **_pair(event.created, zone)},
            "booking_ends_on": {"continue_until_event_ends": "false", **_pair(event.start, zone)},
            "enable_sell_ticket_on_venue": "false",
        }
        if level.category == "donation":
            variation = level.variations[0]
            pricing: Any = {"uuid": _uuid(variation.key), "quantity_included": str(level.included),
                            "quantity_sold": variation_sold[0]}
            settings = {**booking, "pass_on_fees": "false", "hide_ticket_until_booking_start": "false",
                        "enable_waiting_list": "false", "restrictions": [_AGE_RESTRICTION]}
        else:
            pricing = [
                {"uuid": _uuid(v.key), "variation": v.name, "price": v.text,
                 "quantity_included": str(level.included), "quantity_sold": variation_sold[i]}
                for i, v in enumerate(level.variations)
            ]
            settings = {**booking, "price_included_service_charge": "false", "enable_digital_pass": 1,
                        "enable_waiting_list": "false", "restrictions": [_AGE_RESTRICTION]}
        return {
            "uuid": _uuid(level.key),
            "display_order": str(level.position + 1),
            "name": level.name,
            "description": level.description,
            "quantity": str(level.quantity),
            "max_quantity_per_customer": level.max_per_customer,
            "quantity_sold": level_sold,
            "status": 0,
            "session_id": 0,
            "parent_id": 0,
            "category": level.category,
            "url_digital_pass": None,
            "pricing_details": pricing,
            "early_bird_discount": _EARLY_BIRD,
            "coupons": [],
            "settings": settings,
            "ticket_instruction": "",
            "custom_attributes": _CUSTOM_ATTRIBUTES,
        }

    def _session_json(self, event: Event, session: Session) -> dict[str, Any]:
        zone = event.zone
        starts = event.start + session.offset
        sold = self._level_sold(event)
        levels = []
        for level in event.levels:
            if session.position not in level.sessions:
                continue
            level_sold, variation_sold = sold[level.position]
            if level.category == "donation":
                pricing: Any = {"uuid": _uuid(level.variations[0].key), "quantity_included": str(level.included),
                                "quantity_sold": variation_sold[0]}
            else:
                pricing = [
                    {"uuid": _uuid(v.key), "variation": v.name, "price": v.text,
                     "quantity_included": str(level.included), "quantity_sold": variation_sold[i]}
                    for i, v in enumerate(level.variations)
                ]
            levels.append({
                "uuid": _uuid(level.key),
                "display_order": str(level.position + 1),
                "name": level.name,
                "description": level.description,
                "quantity": str(level.quantity),
                "max_quantity_per_customer": str(level.max_per_customer),
                "quantity_sold": level_sold,
                "pricing_details": pricing,
                "early_bird_discount": _SESSION_EARLY_BIRD,
            })
        return {
            "type": session.type,
            "uuid": _uuid(session.key),
            "status": "active",
            "name": session.name,
            "display_name": session.name,
            "description": session.description,
            "image": "",
            "created_on": _stamp(session.created),
            "updated_on": _stamp(session.updated),
            "configuration": {"attributes": [{"name": "venue", "value": self._venue(event)}]},
            "tickets": {"levels": levels},
            "session_booking_starts_on": _pair(event.created, zone),
            "session_booking_ends_on": _pair(starts, zone),
            "session_starts_on": _pair(starts, zone),
            "session_ends_on": _pair(starts + session.seconds, zone),
        }

    def _order_json(self, event: Event, order: Order) -> dict[str, Any]:
        zone, symbol = event.zone, event.symbol
        buyer = self.people[order.buyer]
        subtotal = order.subtotal
        fees = _fee(subtotal - order.discount)
        line_items = []
        for index, (position, variation_index, quantity, unit) in enumerate(order.lines):
            level = event.levels[position]
            variation = level.variations[variation_index]
            donation = level.category == "donation"
            line_items.append({
                "uuid": _uuid(_derived_key(order.key, _LINE_SALT, index)),
                "ticket_uuid": _uuid(level.key),
                "ticket_name": level.name,
                "pricing_uuid": None if donation else _uuid(variation.key),
                "variation": variation.name,
                "quantity": quantity,
                "unit_price": _money(unit, symbol) if donation else variation.text,
                "amount": _money(unit * quantity, symbol),
            })
        return {
            "uuid": _uuid(order.key),
            "order_number": f"EB-{order.number}",
            "status": order.status,
            "currency": event.currency,
            "buyer": {
                "uuid": _uuid(_derived_key(self._org_key, _PERSON_SALT, order.buyer)),
                "first_name": buyer.first_name,
                "last_name": buyer.last_name,
                "email": buyer.email,
                "phone": buyer.phone,
            },
            "line_items": line_items,
            "subtotal": _money(subtotal, symbol),
            "discount": _money(order.discount, symbol),
            "fees": _money(fees, symbol),
            "total": _money(subtotal - order.discount + fees, symbol),
            "refunded_amount": _money(order.refunded_amount, symbol),
            "payment_method": order.payment,
            "ordered_on": _pair(order.created, zone),
            "refunded_on": None if order.refunded_on is None else _pair(order.refunded_on, zone),
            "created_on": _stamp(order.created),
            "updated_on": _stamp(order.updated),
        }

    def _attendee_json(self, event: Event, row: AttendeeRow) -> dict[str, Any]:
        order, place, index = row
        position, variation_index, _, _ = order.lines[index]
        level = event.levels[position]
        person = self.people[order.persons[place]]
        checked_in = self._checked_in_at(event, order, place)
        return {
            "uuid": _uuid(self._attendee_key(row)),
            "order_uuid": _uuid(order.key),
            "ticket_uuid": _uuid(level.key),
            "ticket_name": level.name,
            "variation": level.variations[variation_index].name,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": person.phone,
            "status": "active",
            "checked_in": _flag(checked_in is not None),
            "checked_in_on": None if checked_in is None else _pair(checked_in, event.zone),
            "session_uuids": [_uuid(event.sessions[p].key) for p in level.sessions],
            "created_on": _stamp(order.created),
            "updated_on": _stamp(order.created if checked_in is None else checked_in),
        }


    def _waiting_json(self, event: Event, entry: WaitingEntry) -> dict[str, Any]:
        return {
            "uuid": _uuid(entry.key),
            "email": entry.email,
            "first_name": entry.first_name,
            "last_name": entry.last_name,
            "quantity": str(entry.quantity),
            "created_on": _pair(entry.created, event.zone, TIMESTAMP_FORMAT),
            "status": WAITING_STATUS,
        }


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _waiting_request(body: bytes) -> tuple[str, str, str, int]:
    """(email, first name, last name, quantity) of a request to join a waiting list."""
    try:
        fields = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        fields = None
    if not isinstance(fields, dict):
        raise ApiError(400, "The request body must be a JSON object")
    email = fields.get("email")
    if email is None or (isinstance(email, str) and not email.strip()):
        raise ApiError(400, "email is required")
    if not isinstance(email, str) or not _EMAIL.fullmatch(email.strip()):
        raise ApiError(400, "email address is invalid")
    names = []
    for name, message in (("first_name", "first_name can not exceed 40 characters"),
                          ("last_name", "last_name should be less than or equal to 40 characters")):
        value = fields.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string")
        if len(value.strip()) > NAME_MAX_LENGTH:
            raise ApiError(400, message)
        names.append(value.strip())
    raw = fields.get("quantity", 1)
    low, high = WAITING_QUANTITY_RANGE
    if isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ApiError(400, f"quantity must be an integer between {low} and {high}")
    return email.strip(), names[0], names[1], raw


def _path_pattern(path: str) -> re.Pattern[str]:
    """A path such as WAITING_LIST_PATH as a route pattern: "{uuid}" becomes the group."""
    return re.compile(re.escape(path).replace(re.escape("{uuid}"), "([^/]+)"))


# Routes below API_PREFIX: (path pattern, {method: handler}); the pattern's group is the event uuid.
ROUTES: tuple[tuple[re.Pattern[str], dict[str, Handler]], ...] = (
    (re.compile(r"/events"), {"GET": EventBookingsSandbox._get_events}),
    (re.compile(r"/events/([^/]+)"), {"GET": EventBookingsSandbox._get_event}),
    (re.compile(r"/events/([^/]+)/sessions"), {"GET": EventBookingsSandbox._get_sessions}),
    (re.compile(r"/events/([^/]+)/tickets"), {"GET": EventBookingsSandbox._get_tickets}),
    (re.compile(r"/events/([^/]+)/attendees"), {"GET": EventBookingsSandbox._get_attendees}),
    (re.compile(r"/events/([^/]+)/orders"), {"GET": EventBookingsSandbox._get_orders}),
    (re.compile(r"/events/([^/]+)/cancel"), {"POST": EventBookingsSandbox._post_cancel}),
    (_path_pattern(WAITING_LIST_PATH), {"GET": EventBookingsSandbox._get_waiting_list}),
    (_path_pattern(JOIN_WAITING_LIST_PATH), {"POST": EventBookingsSandbox._post_waiting_list}),
)


def _route(path: str) -> tuple[dict[str, Handler], str | None] | None:
    for pattern, handlers in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return handlers, match.group(1) if match.groups() else None
    return None


# The app `sandboxes.registry` serves for this vendor.
SANDBOX = EventBookingsSandbox

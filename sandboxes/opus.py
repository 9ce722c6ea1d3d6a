"""OPUS DX Events API v1 sandbox (``vendor-docs/opus-dx-events-api-v1.txt``).

Serves every endpoint of the document at its documented path below the base
URL, over deterministic synthetic data (a function of ``seed``, ``scale`` and
``start_date``) and a simulated clock. The document's quirks are kept on
purpose, exactly as each example shows them: numbers sent as strings,
``"total records"`` with a space on registrants, sessions and packages, the
events list wrapped in an array, ``user-`` prefixed registrant keys,
``"Icon"``, ``"Middle_name"`` and ``"Group_name"`` capitalised, and per-endpoint
types for ``total``/``limit``/``offset``.

Assumptions where the document is silent:

- Authentication: a missing or wrong ``api_key`` answers HTTP 401 with
  ``{"error": "Invalid or missing api_key"}``. Unknown paths answer 404 and a
  known path with another method 405, both before the key is checked. Write
  calls take ``api_key`` from the JSON body or the query string.
- Errors are JSON ``{"error": "...", "parameter": "..."}``: 400 for a missing
  required parameter (``event_id`` where an event is required, ``user_id`` for
  ``events/user``), a ``limit`` below 1, a negative ``offset``, a non-integer
  ``limit``/``offset``, a date that is not ``YYYY-MM-DD``, an unknown
  ``date_filter_type``, or a body that is not a JSON object; 404 for an unknown
  user, product or registration in the write calls.
- An unknown event (or a non-numeric ``event_id``) is not an error: the list
  is empty and the total 0. Registrants and packages then carry an ``event``
  block whose four values are empty strings.
- ``event_id`` and ``event_api_key`` given together must both match. Sessions
  and speakers accept ``event_id`` only, as documented.
- Where no maximum is documented, ``limit`` is capped at 1000; speakers cap at
  their documented 50. The envelope echoes the effective limit and offset.
- Every list is ordered by its id (events by event id, registrants by
  registration id, attendees by user id, sessions by start time then id,
  speakers by speaker id); session attendance is grouped by session (session
  order) and ordered by user id within a session, so pages already served stay
  stable when later sessions end.
- ``sessionattendance`` and ``sessionitineraries`` document the event as
  optional: without one they cover all events, in event id order.
  ``sessionondemand`` requires an event (its table says Y/N).
- ``session_id`` means the session ``id`` (not its ``product_id``); on
  registrants it selects the registrants whose itinerary holds that session.
- Events: ``start_date`` keeps events starting at or after that day 00:00 UTC,
  ``end_date`` events ending at or before 23:59:59 UTC; with
  ``date_filter_type`` ``created_at`` or ``updated_at`` both bounds apply to
  that timestamp instead. Event payloads carry no ``created_at``/``updated_at``
  (the document lists none). An event's ``updated_at`` moves when its name or
  description changes, not when people register.
- ``events/user``: ``start_date``/``end_date`` compare the registration date in
  the event's own time zone, as documented; the payload is the shorter event
  object of that section, wrapped in an array like ``events``.
- Ids are numeric strings from separate counters (events from 1001, users
  from 100000, registrations from 56789, sessions from 1961, products, i.e.
  packages and sessions together, from 15598, speakers from 3339). Event,
  package, session and speaker ``api_key`` and session ``reference_id`` are
  filled in (the examples leave them empty) so that lookups by them work.
- People come from the shared ``PersonPool``: ``api_username`` is the user id
  plus 400000, and about 5% of e-mails are stored as typed (capitals or
  surrounding spaces), so consumers must normalise them. Speakers are a
  separate pool with lower-case e-mails.
- Timestamps are ``"YYYY-MM-DD HH:MM:SS"`` in UTC (the document says ISO 8601
  in UTC but its examples use this form). Event ``timezone`` is an IANA name.
- Events run 08:00–18:00 local time on each of their 1–3 days; sessions sit
  in fixed local slots within those hours, in parallel when there are more
  sessions than slots in a day.
- Speakers are served at the documented ``/rest/opus/api/v1/events/speakers``
  and also at ``/rest/api/v1/events/speakers``, beside the other endpoints:
  one row per distinct speaker of the event's sessions, without the
  ``product_id`` the field table mentions (the example has none); session
  ``speaker_ids`` maps speaker id to ``{"distinction": ...}``.
- Sessions report ``alertness_issued`` "0" until they end ("if session
  already ended"), then the number issued (one check per 15 minutes).
- Attendance appears when a session ends by the simulated clock: about 60–80%
  of an event's registrants come (a stable per-person draw), each attends
  some sessions for up to the session's length. ``sessionattendance`` rows
  have the example's fields only (no session id); ``product_identification``
  ("SES101", "SES102", …) is unique within an event and ``total_time`` reads
  "06h 56m 31s". Event-level ``attendees`` sum a person's session rows;
  their ``total_time`` is "hh:mm:ss" (hours may exceed 24) as that section
  documents.
- On demand: every ended session is listed; ``total_playing_time`` is the
  number of plays and ``total_time`` the viewing time as "hh:mm:ss" (the field
  table's "total_time_played"/"total_viewing_time" are taken to mean these);
  the session's ``total_views`` sums plays and its ``total_time`` the time.
- Registrants: ``registered`` is UTC; ``questions`` lists the answers given,
  as ``[{"question_id", "label", "api_name", "answer"}]``; synthetic people
  have answered every required question. ``packages`` holds the packages the
  registration bought (``id`` is the package's ``product_id``); ``source`` is
  "web", "admin", "import" or (for the register call) "api". ``access_codes``
  is filled for about 10% of registrations.
- Packages: every event has a "Main Conference" package (``package_type`` and
  ``package_category`` null, as in the example) and half have a "Virtual
  Pass" add-on; ``end_date_time`` (the example's key, not the field table's
  ``expiration_date_time``) is the event end; prices carry real values.
- Registration calls: people are found by ``user_id``, ``email`` (compared
  without case or surrounding spaces) or ``api_username``; products are
  packages or sessions, found by ``product_id``/``product_api_key`` (single
  value or array). Registering for a session only adds it to the person's
  itinerary (registering for the event without a package if needed).
  Registering someone already registered adds the products and answers "ok".
  Missing required answers, or an answer not among a question's options,
  answer 400. ``modify_registration`` needs an existing registration (else
  404) and products of that event (else 400); ``registration_answers`` with
  ``"answer": null`` deletes an answer.
- ``cancel_registration`` removes the registration from registrants and
  ``events/user`` and drops the person's itinerary entries for the event;
  attendance already recorded stays. Nothing reports cancellations. An
  unknown user is 404, and so is a person with no registration in any of the
  events named.
- The simulated clock starts at 06:00 UTC of ``start_date``. Each advanced day
  adds new events (starting 30–120 days ahead), renames some events (bumping
  ``updated_at`` to that day), adds registrations to events not started yet,
  cancels about 3% of their registrations through the ``cancel_registration``
  code path, and records attendance for sessions that ended. Each day's draws
  come from its own seed, so advancing 2 days equals advancing 1 day twice.

Sparse profile (``profile="sparse"``, see ``sandboxes.server.SandboxProfile``):
the document marks no response field required, so the sandbox keeps what a
record cannot do without and thins the rest (``*_SHAPE`` below):

- Always sent: every id and key (event ``id``; registrant ``registration_id``
  and ``user_id``; attendee ``id``; session attendance ``user_id`` and
  ``product_identification``; session ``id``, ``product_id`` and
  ``identification``, which attendance rows refer to; package
  ``product_id``; speaker ``id``), an event's ``start_date``, a session's
  ``start_date_time``, and a person's ``email`` (who the person is across
  vendors; the document's registration calls find people by it). The event
  of a registration is the request's ``event_id``. The itinerary and on-demand
  lists of a session are sent, their people thinned alike.
- Everything else is optional: left out, blank or kept as drawn per record.
  ``session_room`` is never sent with a value: sessions have no rooms.
- About one event in four answers every child list empty: registrants,
  attendees, sessions, session attendance, itineraries, on demand, packages
  and speakers (also in the lists that cover all events), and it is not in
  anyone's ``events/user``. Registering through the API for such an event
  succeeds, but the registration is not listed.

Faults (``sandboxes.faults``): drift and bad data apply to the events list,
``GET /rest/api/v1/events`` (the records under ``events`` in the one-element
array). The key is ``id``; the date is ``end_date``, which the source reads
for the active window and staging parses. Drift adds ``promo_code``, turns
``banner`` (a URL string stored as is) into an object and leaves out ``Icon``
(a URL "if set"); the source needs none of them. OPUS uses a static
``api_key``: ``expired_token`` never applies.
"""

from __future__ import annotations

import datetime as dt
import hmac
import itertools
import json
import math
import random
import re
import secrets
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sandboxes.faults import FaultTarget
from sandboxes.server import FULL, PersonPool, RecordShape, SandboxApp, SandboxResponse, synchronized

# Drawn once per process, so no usable key is a constant in code: tests read it
# from here, clients from `settings()`, and `turnout demo` may pass its own.
DEMO_API_KEY = f"opus-sandbox-{secrets.token_urlsafe(18)}"


@dataclass(frozen=True)
class ScalePreset:
    events: int
    registrants_per_event: tuple[int, int]
    sessions_per_event: tuple[int, int]
    people: int
    speakers: int
    new_events_per_day: tuple[int, int]
    updated_events_per_day: tuple[int, int]
    # Events start from this many days before the start date: medium and large hold
    # years of history, as an organisation's first load does, and a day then adds and
    # changes about what an average day of that history holds, at most a few times more.
    history_days: int = 60


SCALES: dict[str, ScalePreset] = {
    "small": ScalePreset(
        events=12, registrants_per_event=(30, 60), sessions_per_event=(3, 5), people=300,
        speakers=40, new_events_per_day=(1, 2), updated_events_per_day=(1, 2),
    ),
    "medium": ScalePreset(
        events=300, registrants_per_event=(35, 80), sessions_per_event=(4, 8), people=20_000,
        speakers=600, new_events_per_day=(0, 1), updated_events_per_day=(1, 3), history_days=1825,
    ),
    "large": ScalePreset(
        events=2_500, registrants_per_event=(60, 130), sessions_per_event=(4, 8), people=150_000,
        speakers=3_000, new_events_per_day=(1, 4), updated_events_per_day=(5, 15), history_days=1825,
    ),
}

API_PREFIX = "/rest/api/v1/events"
SPEAKERS_PATH = "/rest/opus/api/v1/events/speakers"

LIMIT_CAP = 1000  # applied where the document gives no maximum
SPEAKERS_MAX_LIMIT = 50

# Events start between these many days before and after the start date at scale
# small; the other scales reach further back (ScalePreset.history_days).
EVENT_WINDOW_DAYS = (-60, 90)
EVENT_LENGTH_DAYS = (1, 3)
EVENT_LOCAL_HOURS = (8, 18)
# (local hour, minute, minutes long) of each session slot in a day.
SESSION_SLOTS = ((9, 0, 60), (10, 30, 90), (13, 0, 75), (14, 30, 60), (16, 0, 90))
SECONDS_PER_ALERTNESS_CHECK = 15 * 60
# Events are created this many days before they start (bounded by the clock).
CREATION_LEAD_DAYS = (45, 150)
NEW_EVENT_START_DAYS = (30, 120)

EVENT_ATTEND_RATE = (0.6, 0.8)
SESSION_ATTEND_RATE = 0.7
ITINERARY_RATE = 0.25
ON_DEMAND_RATE = 0.1
DAILY_CANCEL_RATE = 0.03
# Until it starts, an event gains up to this share of its registrants per day
# (about half of it on average, a little more than the cancellations).
DAILY_REGISTRATION_GROWTH = 0.08

EVENT_ID_BASE = 1001
USER_ID_BASE = 100_000
API_USERNAME_BASE = 500_000
REGISTRATION_ID_BASE = 56_789
SESSION_ID_BASE = 1_961
PRODUCT_ID_BASE = 15_598
SPEAKER_ID_BASE = 3_339
QUESTION_ID_BASE = 9
CE_TEST_ID_BASE = 106_372
SESSION_IDENTIFICATION_BASE = 101

TIMEZONES = ("America/Chicago", "America/New_York", "Europe/London", "America/Los_Angeles", "Europe/Berlin")
TEMPLATES = ("default", "conference", "virtual")
# (topic, category)
EVENT_TOPICS = (
    ("Cardiology", "Medical"), ("Oncology", "Medical"), ("Pediatrics", "Medical"),
    ("Pharmacy Practice", "Medical"), ("Nursing Leadership", "Medical"), ("Data Engineering", "Technology"),
    ("Cloud Security", "Technology"), ("Machine Learning", "Technology"), ("DevOps", "Technology"),
    ("Tax Law", "Finance"), ("Audit & Assurance", "Finance"), ("Wealth Management", "Finance"),
    ("Teaching Innovation", "Education"), ("Campus Leadership", "Education"), ("Supply Chain", "Operations"),
)
# (name suffix, event type)
EVENT_KINDS = (
    ("Annual Meeting", "Conference"), ("Summit", "Conference"), ("Symposium", "Conference"),
    ("Workshop", "Workshop"), ("Webinar Series", "Webinar"), ("Bootcamp", "Workshop"),
)
RENAME_TAGS = ("Rescheduled", "Updated Agenda", "New Venue", "Extended", "Hybrid Edition")
SESSION_TOPICS = (
    "Opening Keynote", "State of the Field", "Hands-on Lab", "Panel: What Comes Next", "Case Studies",
    "Regulatory Update", "Ask the Experts", "Lightning Talks", "Best Practices", "Research Roundup",
    "Tools and Techniques", "Closing Plenary", "Networking Roundtable", "Deep Dive", "Emerging Trends",
)
SESSION_TYPES = ("Lecture", "Panel", "Workshop", "Keynote")
SESSION_CATEGORIES = ("General", "Clinical", "Technical", "Leadership")
SESSION_TRACKS = ("Track A", "Track B", "Track C", "")
SESSION_ROOMS = ("Ballroom A", "Ballroom B", "Room 101", "Room 204", "Hall C", "")
SESSION_FACILITIES = ("Convention Center", "Main Hotel", "Virtual", "")
SPEAKER_DISTINCTIONS = ("Author", "Presenter", "Moderator", "Panelist")
SALUTATIONS = ("", "Dr.", "Mr.", "Ms.", "Mrs.", "Prof.")
CREDENTIALS = ("", "", "", "MD", "PhD", "RN", "PharmD", "CPA", "MBA")
SUFFIXES = ("", "", "", "", "Jr.", "Sr.", "III")
DESIGNATIONS = ("other", "physician", "nurse", "pharmacist", "student", "industry")
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Blvd", "Lake Rd", "Hill St", "Elm Ct")
# Registration sources with their cumulative weights.
SOURCES = ("web", "admin", "import")
SOURCE_WEIGHTS = (85, 95, 100)
API_SOURCE = "api"
# (code, description); index 0 means no code was used.
ACCESS_CODES = (("", ""), ("EARLYBIRD", "Early registration discount"), ("SPEAKER", "Speaker comp"),
                ("STUDENT50", "Student rate"))
ACCESS_CODE_RATE = 0.1
# Package positions a registration holds; shared tuples keep registrations small.
MAIN_PACKAGE = (0,)
SECOND_PACKAGE = (1,)
BOTH_PACKAGES = (0, 1)
NO_PACKAGES: tuple[int, ...] = ()

# (label, type, api_name, answer options; empty for free text)
QUESTION_BANK = (
    ("Job Title", "text", "job_title", ()),
    ("Organization", "text", "organization", ()),
    ("Dietary requirements", "select", "dietary", ("None", "Vegetarian", "Vegan", "Gluten free")),
    ("How did you hear about us?", "radio", "referral", ("Email", "Colleague", "Social media", "Search engine")),
    ("Topics of interest", "checkbox", "interests", ("Research", "Practice", "Policy", "Technology")),
    ("T-shirt size", "select", "tshirt_size", ("S", "M", "L", "XL")),
)
QUESTIONS_PER_EVENT = (2, 4)
REQUIRED_QUESTION_RATE = 0.4
OPTIONAL_ANSWER_RATE = 0.5

CDN_BASE = "https://cdn.opus.example.com"
SPEAKER_EMAIL_DOMAIN = "speakers.example.com"
SITE_BASE = "https://events.opus.example.com"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")

MODIFIED_MESSAGE = "You have successfully modified this user's registration."
CANCELED_MESSAGE = "You have successfully canceled this user's registration."

_MASK64 = (1 << 64) - 1

# What the sparse profile always sends of each list's records; see the module docstring.
EVENT_SHAPE = RecordShape("event", key=("id",), required={"start_date"})
PERSON_SHAPE = RecordShape("person", key=("id",), required={"email"})
REGISTRANT_SHAPE = RecordShape("registrant", key=("registration_id",), required={"user_id", "email"})
ATTENDEE_SHAPE = RecordShape("attendee", key=("id",), required={"email"})
SESSION_ATTENDANCE_SHAPE = RecordShape(
    "session_attendance", key=("user_id", "product_identification"), required={"email"},
)
_SESSION_IDS = {"product_id", "identification", "start_date_time"}
SESSION_SHAPE = RecordShape("session", key=("id",), required=_SESSION_IDS, never={"session_room"})
ITINERARY_SHAPE = RecordShape(
    "session", key=("id",), required=_SESSION_IDS | {"itinerary_users_list"},
    nested={"itinerary_users_list": PERSON_SHAPE},
)
# Keyed by the session id as sessions are, so a session loses the same fields in both lists.
ON_DEMAND_SHAPE = RecordShape(
    "session", key=("session_id",), required=_SESSION_IDS | {"users"}, nested={"users": PERSON_SHAPE},
)
PACKAGE_SHAPE = RecordShape("package", key=("product_id",))
SPEAKER_SHAPE = RecordShape("speaker", key=("id",))


# --------------------------------------------------------------------------
# Stored rows: tuples (NamedTuple) and __slots__ objects keep >1M rows small;
# JSON dicts are only built for the page being served.
# --------------------------------------------------------------------------


class Question(NamedTuple):
    id: int
    label: str
    type: str
    api_name: str
    display_order: int
    required: bool
    options: tuple[str, ...]


class Package(NamedTuple):
    product_id: int
    identification: str
    api_key: str
    name: str
    package_type: str | None
    package_category: str | None
    prices: tuple[tuple[str, str, str, str], ...]  # (type, price, group_id, group_name)


class Speaker(NamedTuple):
    id: int
    salutation: str
    first_name: str
    middle_name: str
    last_name: str
    credentials: str
    company: str
    title: str
    description: str
    email: str
    identification: str
    created_at: str
    updated_at: str
    suffix: str
    api_key: str


class Registration(NamedTuple):
    id: int
    person: int
    registered: int  # Unix seconds, UTC: an int is far smaller than a datetime
    packages: tuple[int, ...]  # positions in Event.packages
    source: str
    access_code: int  # position in ACCESS_CODES


class SessionAttendance(NamedTuple):
    person: int
    alertness: int
    seconds: int


class EventAttendance(NamedTuple):
    person: int
    alertness: int
    issued: int
    required: int
    seconds: int


class OnDemandView(NamedTuple):
    person: int
    plays: int
    seconds: int


class Session:
    __slots__ = (
        "id", "product_id", "api_key", "reference_id", "identification", "title", "description",
        "start", "end", "speakers", "ce_test_id", "credits", "checks", "required_checks", "prices",
        "session_type", "category", "track", "room", "facility", "itinerary", "attendance",
        "on_demand", "ended",
    )

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.itinerary = array("l")  # person indexes, in the order they added it
        self.attendance: list[SessionAttendance] = []
        self.on_demand: list[OnDemandView] = []
        self.ended = False  # attendance recorded

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


class Event:
    __slots__ = (
        "id", "api_key", "name", "base_name", "template", "type", "category", "slug", "description",
        "base_description", "timezone", "start", "end", "created_at", "updated_at", "questions", "packages", "sessions",
        "registrations", "answers", "attendees", "attend_rate", "daily_registrations", "_registrant_list",
    )

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        # Keyed by person; insertion order is registration id order.
        self.registrations: dict[int, Registration] = {}
        # Answers given through the API, by registration id; None marks a deleted answer.
        self.answers: dict[int, dict[int, str | None]] = {}
        self.attendees: list[EventAttendance] = []
        self._registrant_list: list[Registration] | None = None

    @property
    def registrant_list(self) -> list[Registration]:
        """Registrations in id order; cached so paging slices a list."""
        if self._registrant_list is None:
            self._registrant_list = list(self.registrations.values())
        return self._registrant_list

    def registrations_changed(self) -> None:
        self._registrant_list = None


class ApiError(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter

    def response(self) -> SandboxResponse:
        extra = {"parameter": self.parameter} if self.parameter else {}
        return SandboxResponse.error(self.status, self.message, **extra)


class Request:
    """Parameters of one call: the JSON body first, then the query string."""

    def __init__(self, query: Mapping[str, list[str]], body: Mapping[str, Any] | None = None) -> None:
        self.query = query
        self.body = body or {}

    def get(self, name: str) -> Any:
        if name in self.body:
            return self.body[name]
        values = self.query.get(name)
        if not values or values[0] == "":
            return None
        return values[0]

    def get_str(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None or value == "" else str(value).strip()

    def get_list(self, name: str) -> list[str]:
        """A parameter documented as "single value or array"."""
        if name in self.body:
            value = self.body[name]
            values = value if isinstance(value, list) else [value]
        else:
            values = self.query.get(name, []) + self.query.get(f"{name}[]", [])
        return [str(v).strip() for v in values if v is not None and str(v).strip()]

    def get_int(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError(400, f"{name} must be an integer", name) from None

    def get_date(self, name: str) -> dt.date | None:
        value = self.get_str(name)
        if value is None:
            return None
        if not DATE_PATTERN.fullmatch(value):
            raise ApiError(400, f"{name} must be a date as YYYY-MM-DD", name)
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ApiError(400, f"{name} must be a date as YYYY-MM-DD", name) from None


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


def _unit(*parts: int) -> float:
    return _mix(*parts) / (1 << 64)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)


def _stamp_epoch(seconds: int) -> str:
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(seconds))


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _hms_letters(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}h {rest // 60:02d}m {rest % 60:02d}s"


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _random_moment(rng: random.Random, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    if high <= low:
        return low
    span = int((high - low).total_seconds())
    return low + dt.timedelta(seconds=rng.randrange(span + 1))


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1) - dt.timedelta(seconds=1)


def _page(rows: Sequence[Any], offset: int, limit: int) -> Sequence[Any]:
    return rows[offset:offset + limit]


def _page_chain(groups: Iterable[tuple[Any, Sequence[Any]]], offset: int, limit: int) -> tuple[int, list[tuple[Any, Any]]]:
    """Page over several sequences as if concatenated, without concatenating them.

    Returns the total length and the page as (group key, row) pairs.
    """
    total, page = 0, []
    end = offset + limit
    for key, rows in groups:
        size = len(rows)
        low, high = max(offset - total, 0), min(end - total, size)
        if low < high:
            page.extend((key, row) for row in rows[low:high])
        total += size
    return total, page


# --------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------

Handler = Callable[["OpusSandbox", Request], SandboxResponse]


class OpusSandbox(SandboxApp):
    """The OPUS DX Events API v1 over synthetic data; see the module docstring."""

    vendor = "opus"
    title = "OPUS DX"
    fault_target = FaultTarget(
        paths=(re.escape(API_PREFIX),),
        records=(0, "events"),
        key="id",
        date="end_date",
        new_field="promo_code",
        retyped_field="banner",
        gone_field="Icon",
    )

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str = "small",
        start_date: dt.date | None = None,
        api_key: str = DEMO_API_KEY,
        profile: str = FULL,
    ) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        super().__init__(seed=seed, scale=scale, start_date=start_date, profile=profile)
        self.api_key = api_key
        self.preset = SCALES[scale]
        self.people = PersonPool(seed, self.preset.people)
        self.events: list[Event] = []  # in id order: ids only grow
        self._events_by_id: dict[str, Event] = {}
        self._events_by_key: dict[str, Event] = {}
        # product id / api key -> (event, "package" | "session", position)
        self._products: dict[str, tuple[Event, str, int]] = {}
        self._products_by_key: dict[str, tuple[Event, str, int]] = {}
        self._ids = {
            "event": itertools.count(EVENT_ID_BASE),
            "registration": itertools.count(REGISTRATION_ID_BASE),
            "session": itertools.count(SESSION_ID_BASE),
            "product": itertools.count(PRODUCT_ID_BASE),
            "question": itertools.count(QUESTION_ID_BASE),
            "ce_test": itertools.count(CE_TEST_ID_BASE),
        }
        self._build()

    # ---- public helpers -------------------------------------------------

    def settings(self, base_url: str) -> dict[str, str]:
        return {"SOURCES__OPUS__BASE_URL": base_url, "SOURCES__OPUS__API_KEY": self.api_key}

    @synchronized
    def event_ids(self, *, ended: bool | None = None) -> list[str]:
        """Event ids, optionally only the events that have (not) ended by the clock."""
        return [
            str(event.id) for event in self.events
            if ended is None or (event.end <= self.now) == ended
        ]

    @synchronized
    def row_counts(self) -> dict[str, int]:
        """How many rows each list endpoint would return in total."""
        sessions = [s for e in self.events for s in e.sessions]
        return {
            "events": len(self.events),
            "registrants": sum(len(e.registrations) for e in self.events),
            "attendees": sum(len(e.attendees) for e in self.events),
            "sessions": len(sessions),
            "sessionattendance": sum(len(s.attendance) for s in sessions),
            "sessionitineraries": sum(len(s.itinerary) for s in sessions),
            "sessionondemand": sum(len(s.on_demand) for s in sessions),
            "packages": sum(len(e.packages) for e in self.events),
        }

    # ---- building -------------------------------------------------------

    def _build(self) -> None:
        rng = random.Random(f"opus:{self.seed}:{self.scale}:build")
        self._speakers = self._make_speakers(rng)
        self._speaker_ids = list(self._speakers)
        low, high = -self.preset.history_days, EVENT_WINDOW_DAYS[1]
        for _ in range(self.preset.events):
            first_day = self.start_date + dt.timedelta(days=rng.randint(low, high))
            event = self._new_event(rng, first_day)
            lead = dt.timedelta(days=rng.randint(*CREATION_LEAD_DAYS), seconds=rng.randrange(86_400))
            latest = self.now - dt.timedelta(hours=1)
            event.created_at = min(event.start - lead, _random_moment(rng, latest - dt.timedelta(days=30), latest))
            event.updated_at = event.created_at if rng.random() < 0.5 else _random_moment(rng, event.created_at, self.now)
            self._add_event(event)
            count = rng.randint(*self.preset.registrants_per_event)
            closes = min(event.start, self.now)
            moments = sorted(_epoch(_random_moment(rng, event.created_at, closes)) for _ in range(count))
            persons = rng.sample(range(len(self.people)), count)
            for person, registered in zip(persons, moments, strict=False):
                self._add_registration(rng, event, person, registered)
        self._record_ended_sessions()

    def _make_speakers(self, rng: random.Random) -> dict[int, Speaker]:
        pool = PersonPool(self.seed + 7_919, self.preset.speakers)  # speakers are not attendees
        speakers = {}
        for index in range(len(pool)):
            person = pool[index]
            speaker_id = SPEAKER_ID_BASE + index
            created = _random_moment(
                rng,
                self.now - dt.timedelta(days=720),
                self.now - dt.timedelta(days=200),
            )
            updated = _random_moment(rng, created, self.now - dt.timedelta(days=1))
            speakers[speaker_id] = Speaker(
                id=speaker_id,
                salutation=rng.choice(SALUTATIONS),
                first_name=person.first_name,
                middle_name=person.middle_name,
                last_name=person.last_name,
                credentials=rng.choice(CREDENTIALS),
                company=person.company,
                title=person.title,
                description=f"{person.first_name} {person.last_name}, {person.title}, {person.company}.",
                email=f"{person.first_name}.{person.last_name}.{speaker_id}@{SPEAKER_EMAIL_DOMAIN}".lower(),
                identification=f"SPK{speaker_id}",
                created_at=_stamp(created),
                updated_at=_stamp(updated),
                suffix=rng.choice(SUFFIXES),
                api_key=f"spk-{speaker_id}",
            )
        return speakers

    def _new_event(self, rng: random.Random, first_day: dt.date) -> Event:
        event_id = next(self._ids["event"])
        topic, category = rng.choice(EVENT_TOPICS)
        kind, event_type = rng.choice(EVENT_KINDS)
        name = f"{topic} {kind} {first_day.year}"
        days = rng.randint(*EVENT_LENGTH_DAYS)
        zone = rng.choice(TIMEZONES)
        tz = ZoneInfo(zone)
        opens, closes = EVENT_LOCAL_HOURS
        start = dt.datetime.combine(first_day, dt.time(opens), tzinfo=tz).astimezone(dt.UTC)
        last_day = first_day + dt.timedelta(days=days - 1)
        end = dt.datetime.combine(last_day, dt.time(closes), tzinfo=tz).astimezone(dt.UTC)
        description = f"The {name}: {days} day(s) of {topic.lower()} sessions."
        event = Event(
            id=event_id,
            api_key=f"evt-{event_id}",
            name=name,
            base_name=name,
            template=rng.choice(TEMPLATES),
            type=event_type,
            category=category,
            slug=f"{_slugify(name)}-{event_id}",
            description=description,
            base_description=description,
            timezone=zone,
            start=start,
            end=end,
            created_at=None,
            updated_at=None,
            questions=self._make_questions(rng),
            packages=None,
            attend_rate=rng.uniform(*EVENT_ATTEND_RATE),
            daily_registrations=0,
        )
        event.packages = self._make_packages(rng, event)
        event.sessions = self._make_sessions(rng, event, first_day, days, tz)
        return event

    def _make_questions(self, rng: random.Random) -> tuple[Question, ...]:
        chosen = rng.sample(QUESTION_BANK, rng.randint(*QUESTIONS_PER_EVENT))
        return tuple(
            Question(
                id=next(self._ids["question"]),
                label=label,
                type=kind,
                api_name=api_name,
                display_order=order,
                required=rng.random() < REQUIRED_QUESTION_RATE,
                options=options,
            )
            for order, (label, kind, api_name, options) in enumerate(chosen, start=1)
        )

    def _make_packages(self, rng: random.Random, event: Event) -> tuple[Package, ...]:
        price = rng.randrange(150, 900, 25)
        main_id = next(self._ids["product"])
        packages = [Package(
            product_id=main_id,
            identification=f"E{event.id}MAIN",
            api_key=f"pkg-{main_id}",
            name="Main Conference",
            package_type=None,
            package_category=None,
            prices=(("normal", f"{price:.2f}", "0", ""), ("member", f"{price * 0.8:.2f}", "7", "Members")),
        )]
        if rng.random() < 0.5:
            extra_id = next(self._ids["product"])
            packages.append(Package(
                product_id=extra_id,
                identification=f"E{event.id}VIRT",
                api_key=f"pkg-{extra_id}",
                name="Virtual Pass",
                package_type="Add-on",
                package_category="Virtual",
                prices=(("normal", f"{price * 0.4:.2f}", "0", ""),),
            ))
        return tuple(packages)

    def _make_sessions(
        self, rng: random.Random, event: Event, first_day: dt.date, days: int, tz: ZoneInfo
    ) -> list[Session]:
        count = rng.randint(*self.preset.sessions_per_event)
        titles = rng.sample(SESSION_TOPICS, count)
        sessions = []
        for position in range(count):
            day_index = position * days // count
            first_of_day = -(-day_index * count // days)  # first position falling on that day
            hour, minute, minutes = SESSION_SLOTS[(position - first_of_day) % len(SESSION_SLOTS)]
            day = first_day + dt.timedelta(days=day_index)
            start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz).astimezone(dt.UTC)
            session_id = next(self._ids["session"])
            product_id = next(self._ids["product"])
            checks = minutes * 60 // SECONDS_PER_ALERTNESS_CHECK
            member_price = rng.randrange(10, 60, 5)
            speakers = rng.sample(self._speaker_ids, min(rng.randint(0, 3), len(self._speaker_ids)))
            sessions.append(Session(
                id=session_id,
                product_id=product_id,
                api_key=f"ses-{product_id}",
                reference_id=f"REF-{session_id}",
                identification=f"SES{SESSION_IDENTIFICATION_BASE + position}",
                title=titles[position],
                description=f"{titles[position]} at the {event.name}.",
                start=start,
                end=start + dt.timedelta(minutes=minutes),
                speakers=tuple((sid, rng.choice(SPEAKER_DISTINCTIONS)) for sid in sorted(speakers)),
                ce_test_id=next(self._ids["ce_test"]),
                credits=f"{minutes / 60:.2f} CH",
                checks=checks,
                required_checks=0 if rng.random() < 0.5 else math.ceil(checks * 0.75),
                prices=(("member", f"{member_price:.2f}", "7", "Members"),
                        ("normal", f"{member_price * 2:.2f}", "0", "")),
                session_type=rng.choice(SESSION_TYPES),
                category=rng.choice(SESSION_CATEGORIES),
                track=rng.choice(SESSION_TRACKS),
                room=rng.choice(SESSION_ROOMS),
                facility=rng.choice(SESSION_FACILITIES),
            ))
        sessions.sort(key=lambda s: (s.start, s.id))
        return sessions

    def _add_event(self, event: Event) -> None:
        self.events.append(event)
        self._events_by_id[str(event.id)] = event
        self._events_by_key[event.api_key] = event
        for position, package in enumerate(event.packages):
            self._index_product(event, "package", position, package.product_id, package.api_key)
        for position, session in enumerate(event.sessions):
            self._index_product(event, "session", position, session.product_id, session.api_key)

    def _index_product(self, event: Event, kind: str, position: int, product_id: int, api_key: str) -> None:
        self._products[str(product_id)] = (event, kind, position)
        self._products_by_key[api_key] = (event, kind, position)

    def _add_registration(self, rng: random.Random, event: Event, person: int, registered: int) -> Registration:
        """A synthetic registration: packages, source, access code and itinerary drawn from ``rng``."""
        roll = rng.randrange(100)
        source = next(s for s, weight in zip(SOURCES, SOURCE_WEIGHTS, strict=False) if roll < weight)
        code = rng.randrange(1, len(ACCESS_CODES)) if rng.random() < ACCESS_CODE_RATE else 0
        registration = self._insert_registration(event, person, registered, self._draw_packages(rng, event), source, code)
        for session in event.sessions:
            if rng.random() < ITINERARY_RATE:
                session.itinerary.append(person)
        return registration

    def _insert_registration(
        self, event: Event, person: int, registered: int, packages: tuple[int, ...], source: str, access_code: int
    ) -> Registration:
        registration = Registration(
            id=next(self._ids["registration"]),
            person=person,
            registered=registered,
            packages=packages,
            source=source,
            access_code=access_code,
        )
        event.registrations[person] = registration
        event.registrations_changed()
        return registration

    @staticmethod
    def _draw_packages(rng: random.Random, event: Event) -> tuple[int, ...]:
        if len(event.packages) == 1:
            return MAIN_PACKAGE
        roll = rng.random()
        return MAIN_PACKAGE if roll < 0.75 else SECOND_PACKAGE if roll < 0.95 else BOTH_PACKAGES

    # ---- attendance -----------------------------------------------------

    def _record_ended_sessions(self) -> int:
        """Record attendance of every session that has ended by the clock; returns new rows."""
        added = 0
        for event in self.events:
            if event.start > self.now:
                continue
            ended = [s for s in event.sessions if not s.ended and s.end <= self.now]
            for session in ended:
                added += self._record_session(event, session)
            if ended:
                event.attendees = self._aggregate_attendees(event)
        return added

    def _record_session(self, event: Event, session: Session) -> int:
        # Seeded per session so the rows do not depend on when they are recorded.
        rng = random.Random(f"opus:{self.seed}:{self.scale}:session:{session.id}")
        length = session.seconds
        rows, views = [], []
        for registration in event.registrant_list:
            person = registration.person
            if rng.random() < ON_DEMAND_RATE:
                plays = rng.randint(1, 4)
                views.append(OnDemandView(person, plays, rng.randrange(60, length * plays + 1)))
            comes = _unit(self.seed, event.id, person) < event.attend_rate
            if comes and rng.random() < SESSION_ATTEND_RATE:
                seconds = rng.randrange(length // 5, length + 1)
                passed = round(session.checks * seconds / length * rng.uniform(0.7, 1.0))
                rows.append(SessionAttendance(person, passed, seconds))
        rows.sort()
        views.sort()
        session.attendance = rows
        session.on_demand = views
        session.ended = True
        return len(rows)

    @staticmethod
    def _aggregate_attendees(event: Event) -> list[EventAttendance]:
        totals: dict[int, list[int]] = {}
        for session in event.sessions:
            for row in session.attendance:
                total = totals.setdefault(row.person, [0, 0, 0, 0])
                total[0] += row.alertness
                total[1] += session.checks
                total[2] += session.required_checks
                total[3] += row.seconds
        return [EventAttendance(person, *totals[person]) for person in sorted(totals)]

    # ---- simulated time -------------------------------------------------

    def _advance_one_day(self) -> dict[str, int]:
        rng = random.Random(f"opus:{self.seed}:{self.scale}:day:{self.today.isoformat()}")
        day_start = _day_bounds(self.today)[0]
        upcoming = [e for e in self.events if e.start > self.now]
        return {
            "new_events": self._add_new_events(rng, day_start),
            "updated_events": self._update_events(rng, day_start),
            "new_registrations": self._grow_registrations(rng, upcoming),
            "cancelled_registrations": self._cancel_some(rng, upcoming),
            "new_attendance_rows": self._record_ended_sessions(),
        }

    def _add_new_events(self, rng: random.Random, day_start: dt.datetime) -> int:
        count = rng.randint(*self.preset.new_events_per_day)
        for _ in range(count):
            event = self._new_event(rng, self.today + dt.timedelta(days=rng.randint(*NEW_EVENT_START_DAYS)))
            event.created_at = event.updated_at = _random_moment(rng, day_start, self.now)
            self._add_event(event)
            # New events open with a trickle and grow until they start.
            low, high = self.preset.registrants_per_event
            event.daily_registrations = max(1, round(rng.randint(low, high) * DAILY_REGISTRATION_GROWTH))
        return count

    def _update_events(self, rng: random.Random, day_start: dt.datetime) -> int:
        count = min(rng.randint(*self.preset.updated_events_per_day), len(self.events))
        for event in rng.sample(self.events, count):
            tag = rng.choice(RENAME_TAGS)
            event.name = f"{event.base_name} ({tag})"
            event.description = f"{event.base_description} Update: {tag.lower()}."
            event.updated_at = max(event.created_at, _random_moment(rng, day_start, self.now))
        return count

    def _grow_registrations(self, rng: random.Random, upcoming: list[Event]) -> int:
        added = 0
        yesterday = self.now - dt.timedelta(days=1)
        for event in upcoming:
            if not event.daily_registrations:
                event.daily_registrations = max(1, round(len(event.registrations) * DAILY_REGISTRATION_GROWTH))
            wanted = rng.randint(0, event.daily_registrations)
            persons = self._draw_new_registrants(rng, event, wanted)
            since = max(yesterday, event.created_at)
            moments = sorted(_epoch(_random_moment(rng, since, self.now)) for _ in persons)
            for person, registered in zip(persons, moments, strict=False):
                self._add_registration(rng, event, person, registered)
            added += len(persons)
        return added

    def _draw_new_registrants(self, rng: random.Random, event: Event, wanted: int) -> list[int]:
        chosen: list[int] = []
        for _ in range(wanted * 3):  # bounded retries: small pools may be nearly exhausted
            if len(chosen) == wanted:
                break
            person = rng.randrange(len(self.people))
            if person not in event.registrations and person not in chosen:
                chosen.append(person)
        return chosen

    def _cancel_some(self, rng: random.Random, upcoming: list[Event]) -> int:
        cancelled = 0
        for event in upcoming:
            registrations = event.registrant_list
            count = min(int(len(registrations) * DAILY_CANCEL_RATE + rng.random()), len(registrations))
            for registration in rng.sample(registrations, count):
                # The same path as DELETE cancel_registration, so both behave alike.
                self._cancel_registration(Request({}, {
                    "api_key": self.api_key,
                    "user_id": str(USER_ID_BASE + registration.person),
                    "event_id": str(event.id),
                }))
                cancelled += 1
        return cancelled

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
        routes = ROUTES.get(path)
        if routes is None:
            return SandboxResponse.error(404, "Not found")
        handler = routes.get(method.upper())
        if handler is None:
            return SandboxResponse.error(405, "Method not allowed", allowed=sorted(routes))
        try:
            request = Request(query, self._json_body(body) if method.upper() != "GET" else None)
            self._authenticate(request)
            return handler(self, request)
        except ApiError as error:
            return error.response()

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ApiError(400, "Body must be a JSON object") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "Body must be a JSON object")
        return parsed

    def _authenticate(self, request: Request) -> None:
        given = request.get("api_key")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise ApiError(401, "Invalid or missing api_key")

    # ---- request helpers ------------------------------------------------

    @staticmethod
    def _paging(request: Request, default: int, maximum: int = LIMIT_CAP) -> tuple[int, int]:
        limit = request.get_int("limit", default)
        offset = request.get_int("offset", 0)
        if limit < 1:
            raise ApiError(400, "limit must be at least 1", "limit")
        if offset < 0:
            raise ApiError(400, "offset must not be negative", "offset")
        return min(limit, maximum), offset

    def _event_param(self, request: Request, *, by_api_key: bool = True) -> Event | None:
        """The event a call must name; None when it is unknown."""
        event_id = request.get_str("event_id")
        api_key = request.get_str("event_api_key") if by_api_key else None
        if event_id is None and api_key is None:
            needed = "event_id or event_api_key is required" if by_api_key else "event_id is required"
            raise ApiError(400, needed, "event_id")
        event = self._events_by_id.get(event_id) if event_id is not None else self._events_by_key.get(api_key)
        if event is not None and api_key is not None and event.api_key != api_key:
            return None
        return event

    def _events_param(self, request: Request) -> list[Event]:
        """The events a call covers where naming one is optional: the one named, else all."""
        if request.get_str("event_id") is None and request.get_str("event_api_key") is None:
            return self.events
        event = self._event_param(request)
        return [event] if event else []

    def _listed(self, event: Event | None) -> Event | None:
        """The event, or None when it lists no children (an unknown or, sparse, a bare event)."""
        return None if event is None or self.profile.bare(event.id) else event

    def _with_children(self, events: list[Event]) -> list[Event]:
        """The events whose child lists are served (all of them but in the sparse profile)."""
        if not self.profile.sparse:
            return events
        return [event for event in events if not self.profile.bare(event.id)]

    def _person_param(self, request: Request) -> int:
        """The person a write call names by user_id, email or api_username."""
        user_id, email, username = (request.get_str(n) for n in ("user_id", "email", "api_username"))
        if user_id is None and email is None and username is None:
            raise ApiError(400, "user_id, email or api_username is required", "user_id")
        if user_id is not None:
            person = self._person_from_number(user_id, USER_ID_BASE)
        elif email is not None:
            person = self.people.find_email(email)
        else:
            person = self._person_from_number(username, API_USERNAME_BASE)
        if person is None:
            raise ApiError(404, "User not found")
        return person

    def _person_from_number(self, value: str, base: int) -> int | None:
        if not value.isdigit():
            return None
        person = int(value) - base
        return person if 0 <= person < len(self.people) else None

    # ---- payload builders -------------------------------------------------

    def _user(self, person: int) -> dict[str, str]:
        """OPUS profile fields of a person; the extras derive from a stable hash."""
        p = self.people[person]
        bits = _mix(self.seed, person)
        member = bits % 3 == 0
        return {
            "user_id": str(USER_ID_BASE + person),
            "email": p.email,
            "prefix": SALUTATIONS[(bits >> 8) % len(SALUTATIONS)],
            "first_name": p.first_name,
            "middle_name": p.middle_name,
            "last_name": p.last_name,
            "suffix": SUFFIXES[(bits >> 16) % len(SUFFIXES)],
            "credentials": CREDENTIALS[(bits >> 24) % len(CREDENTIALS)],
            "title": p.title,
            "company": p.company,
            "address_1": f"{100 + person % 9_000} {STREETS[(bits >> 32) % len(STREETS)]}",
            "address_2": "",
            "city": p.city,
            "state": p.state,
            "zip_code": p.zip_code,
            "country": p.country,
            "phone": p.phone,
            "image_url": "",
            "member_number": f"M{person:07d}" if member else "",
            "api_username": str(API_USERNAME_BASE + person),
            "designation": DESIGNATIONS[(bits >> 40) % len(DESIGNATIONS)],
            "member": "1" if member else "0",
        }

    def _event_json(self, event: Event) -> dict[str, Any]:
        return {
            "id": str(event.id),
            "api_key": event.api_key,
            "name": event.name,
            "template": event.template,
            "type": event.type,
            "category": event.category,
            "slug": event.slug,
            "Icon": f"{CDN_BASE}/events/{event.id}/icon.png",
            "banner": f"{CDN_BASE}/events/{event.id}/banner.jpg",
            "description": event.description,
            "start_date": _stamp(event.start),
            "end_date": _stamp(event.end),
            "timezone": event.timezone,
            "url": f"{SITE_BASE}/{event.slug}",
            "registration_questions": {str(q.id): self._question_json(q) for q in event.questions},
        }

    @staticmethod
    def _question_json(question: Question) -> dict[str, Any]:
        return {
            "id": str(question.id),
            "label": question.label,
            "type": question.type,
            "api_name": question.api_name,
            "display_order": str(question.display_order),
            "required": "1" if question.required else "0",
            "answers": [
                {"answer_id": str(question.id * 100 + order), "value": value, "display_order": str(order)}
                for order, value in enumerate(question.options, start=1)
            ],
        }

    @staticmethod
    def _user_event_json(event: Event) -> dict[str, str]:
        return {
            "id": str(event.id),
            "api_key": event.api_key,
            "name": event.name,
            "type": event.type,
            "slug": event.slug,
            "Icon": f"{CDN_BASE}/events/{event.id}/icon.png",
            "banner": f"{CDN_BASE}/events/{event.id}/banner.jpg",
            "description": event.description,
            "start_date": _stamp(event.start),
            "end_date": _stamp(event.end),
            "url": f"{SITE_BASE}/{event.slug}",
        }

    @staticmethod
    def _event_block(event: Event | None) -> dict[str, str]:
        if event is None:
            return {"event_name": "", "event_api_key": "", "event_type": "", "event_category": ""}
        return {
            "event_name": event.name,
            "event_api_key": event.api_key,
            "event_type": event.type,
            "event_category": event.category,
        }

    def _registrant_json(self, event: Event, registration: Registration) -> dict[str, Any]:
        user = self._user(registration.person)
        code, code_description = ACCESS_CODES[registration.access_code]
        row = {"user_id": user["user_id"], "email": user["email"], "registration_id": str(registration.id)}
        row.update((f"user-{name}", user[name]) for name in REGISTRANT_USER_FIELDS)
        row.update({
            "member": user["member"],
            "source": registration.source,
            "registered": _stamp_epoch(registration.registered),
            "attributes": [],
            "packages": [
                {
                    "id": str(package.product_id),
                    "identification": package.identification,
                    "api_key": package.api_key,
                    "name": package.name,
                    "package_type": package.package_type,
                }
                for package in (event.packages[position] for position in registration.packages)
            ],
            "questions": [
                {"question_id": str(q.id), "label": q.label, "api_name": q.api_name, "answer": answer}
                for q, answer in self._answers(event, registration)
            ],
            "access_codes": {"accesscode_used": code, "accesscode_description": code_description},
        })
        return row

    def _answers(self, event: Event, registration: Registration) -> list[tuple[Question, str]]:
        """Answers of a registration: derived for synthetic people, stored for API calls."""
        given = event.answers.get(registration.id, {})
        answers = []
        for question in event.questions:
            if question.id in given:
                answer = given[question.id]
            elif registration.source == API_SOURCE:
                answer = None
            else:
                answer = self._derived_answer(question, registration)
            if answer is not None:
                answers.append((question, answer))
        return answers

    def _derived_answer(self, question: Question, registration: Registration) -> str | None:
        bits = _mix(self.seed, registration.id, question.id)
        if not question.required and bits % 1000 >= OPTIONAL_ANSWER_RATE * 1000:
            return None
        if question.options:
            return question.options[(bits >> 12) % len(question.options)]
        person = self.people[registration.person]
        return person.company if question.api_name == "organization" else person.title

    def _person_json(self, person: int) -> dict[str, str]:
        user = self._user(person)
        return {
            "id": user["user_id"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "api_username": user["api_username"],
            "email": user["email"],
        }

    def _attendee_json(self, row: EventAttendance) -> dict[str, str]:
        user = self._user(row.person)
        return {
            "id": user["user_id"],
            "email": user["email"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "middle_name": user["middle_name"],
            "api_username": user["api_username"],
            "title": user["title"],
            "company": user["company"],
            "image_url": "",
            "alertness": str(row.alertness),
            "alertness_issued": str(row.issued),
            "alertness_required": str(row.required),
            "total_time": _hms(row.seconds),
            "total_seconds": str(row.seconds),
        }

    def _session_attendance_json(self, session: Session, row: SessionAttendance) -> dict[str, str]:
        user = self._user(row.person)
        return {
            "user_id": user["user_id"],
            "product_title": session.title,
            "product_identification": session.identification,
            "email": user["email"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "middle_name": user["middle_name"],
            "api_username": user["api_username"],
            "title": user["title"],
            "company": user["company"],
            "image_url": "",
            "alertness": str(row.alertness),
            "alertness_issued": str(session.checks),
            "alertness_required": str(session.required_checks),
            "total_time": _hms_letters(row.seconds),
            "total_seconds": str(row.seconds),
        }

    @staticmethod
    def _session_head(session: Session) -> dict[str, str]:
        return {
            "id": str(session.id),
            "product_id": str(session.product_id),
            "api_key": session.api_key,
            "reference_id": session.reference_id,
            "identification": session.identification,
            "title": session.title,
            "start_date_time": _stamp(session.start),
            "end_date_time": _stamp(session.end),
            "description": session.description,
        }

    def _session_json(self, session: Session) -> dict[str, Any]:
        return {
            **self._session_head(session),
            "speaker_ids": {str(sid): {"distinction": distinction} for sid, distinction in session.speakers},
            "ce": {
                "test_id": str(session.ce_test_id),
                "credits": session.credits,
                "expiration_date": f"{(session.end + dt.timedelta(days=730)).date().isoformat()} 23:59:59",
                "active": "1",
            },
            "prices": [
                {"type": kind, "price": price, "group_id": group_id, "group_name": group_name}
                for kind, price, group_id, group_name in session.prices
            ],
            "alertness_issued": str(session.checks if session.ended else 0),
            "alertness_required": str(session.required_checks),
            "parent_product_id": "0",
            "session_type": session.session_type,
            "session_category": session.category,
            "session_track": session.track,
            "session_room": session.room,
            "session_facility": session.facility,
            "options": [],
        }

    def _itinerary_json(self, session: Session) -> dict[str, Any]:
        return {
            **self._session_head(session),
            "itinerary_users_list": [self._person_json(person) for person in session.itinerary],
        }

    def _on_demand_json(self, session: Session) -> dict[str, Any]:
        head = self._session_head(session)
        session_id = head.pop("id")
        return {
            "product_id": head.pop("product_id"),
            "session_id": session_id,
            **head,
            "total_views": str(sum(view.plays for view in session.on_demand)),
            "total_time": _hms(sum(view.seconds for view in session.on_demand)),
            "users": [
                {**self._person_json(view.person), "total_playing_time": str(view.plays), "total_time": _hms(view.seconds)}
                for view in session.on_demand
            ],
        }

    @staticmethod
    def _package_json(event: Event, package: Package) -> dict[str, Any]:
        return {
            "product_id": str(package.product_id),
            "identification": package.identification,
            "api_key": package.api_key,
            "name": package.name,
            "start_date_time": _stamp(event.start),
            "end_date_time": _stamp(event.end),
            "package_type": package.package_type,
            "package_category": package.package_category,
            "prices": [
                {"type": kind, "price": price, "group_id": group_id, "Group_name": group_name}
                for kind, price, group_id, group_name in package.prices
            ],
        }

    @staticmethod
    def _speaker_json(speaker: Speaker) -> dict[str, str]:
        return {
            "id": str(speaker.id),
            "salutation": speaker.salutation,
            "first_name": speaker.first_name,
            "Middle_name": speaker.middle_name,
            "last_name": speaker.last_name,
            "credentials": speaker.credentials,
            "company": speaker.company,
            "title": speaker.title,
            "Icon": f"{CDN_BASE}/speakers/{speaker.id}.jpg",
            "description": speaker.description,
            "email": speaker.email,
            "identification": speaker.identification,
            "created_at": speaker.created_at,
            "updated_at": speaker.updated_at,
            "suffix": speaker.suffix,
            "api_key": speaker.api_key,
        }

    # ---- GET endpoints --------------------------------------------------

    def _get_events(self, request: Request) -> SandboxResponse:
        limit, offset = self._paging(request, 50)
        events = self._filter_events_by_date(request, self._events_param(request))
        page = _page(events, offset, limit)
        return SandboxResponse.json([{
            "total_records": str(len(events)),
            "limit": str(limit),
            "offset": str(offset),
            "events": [self.profile.thin(self._event_json(event), EVENT_SHAPE) for event in page],
        }])

    def _filter_events_by_date(self, request: Request, events: list[Event]) -> list[Event]:
        start_date, end_date = request.get_date("start_date"), request.get_date("end_date")
        field = request.get_str("date_filter_type")
        if field not in (None, "created_at", "updated_at"):
            raise ApiError(400, "date_filter_type must be created_at or updated_at", "date_filter_type")
        if start_date is None and end_date is None:
            return events
        low = _day_bounds(start_date)[0] if start_date else None
        high = _day_bounds(end_date)[1] if end_date else None

        def keep(event: Event) -> bool:
            first, last = (event.start, event.end) if field is None else (getattr(event, field),) * 2
            return (low is None or first >= low) and (high is None or last <= high)

        return [event for event in events if keep(event)]

    def _get_user_events(self, request: Request) -> SandboxResponse:
        user_id = request.get_str("user_id")
        if user_id is None:
            raise ApiError(400, "user_id is required", "user_id")
        limit, offset = self._paging(request, 50)
        start_date, end_date = request.get_date("start_date"), request.get_date("end_date")
        person = self._person_from_number(user_id, USER_ID_BASE)
        events = []
        if person is not None:
            for event in self._with_children(self.events):
                registration = event.registrations.get(person)
                if registration and self._registered_within(event, registration, start_date, end_date):
                    events.append(event)
        page = _page(events, offset, limit)
        return SandboxResponse.json([{
            "total_records": str(len(events)),
            "limit": str(limit),
            "offset": str(offset),
            "events": [self.profile.thin(self._user_event_json(event), EVENT_SHAPE) for event in page],
        }])

    @staticmethod
    def _registered_within(
        event: Event, registration: Registration, start_date: dt.date | None, end_date: dt.date | None
    ) -> bool:
        if start_date is None and end_date is None:
            return True
        local_day = dt.datetime.fromtimestamp(registration.registered, ZoneInfo(event.timezone)).date()
        return (start_date is None or local_day >= start_date) and (end_date is None or local_day <= end_date)

    def _get_speakers(self, request: Request) -> SandboxResponse:
        event = self._listed(self._event_param(request, by_api_key=False))
        limit, offset = self._paging(request, 10, SPEAKERS_MAX_LIMIT)
        ids = sorted({sid for s in event.sessions for sid, _ in s.speakers}) if event else []
        return SandboxResponse.json({
            "total_records": str(len(ids)),
            "limit": limit,
            "offset": offset,
            "speakers": [
                self.profile.thin(self._speaker_json(self._speakers[sid]), SPEAKER_SHAPE)
                for sid in _page(ids, offset, limit)
            ],
        })

    def _get_registrants(self, request: Request) -> SandboxResponse:
        event = self._event_param(request)
        limit, offset = self._paging(request, 50)
        rows: Sequence[Registration] = event.registrant_list if self._listed(event) else []
        session_id = request.get_str("session_id")
        if event and session_id is not None:
            session = next((s for s in event.sessions if str(s.id) == session_id), None)
            on_itinerary = set(session.itinerary) if session else set()
            rows = [r for r in rows if r.person in on_itinerary]
        return SandboxResponse.json({
            "total records": len(rows),
            "limit": limit,
            "offset": offset,
            "event": self._event_block(event),
            "registrants": [
                self.profile.thin(self._registrant_json(event, r), REGISTRANT_SHAPE)
                for r in _page(rows, offset, limit)
            ],
        })

    def _get_attendees(self, request: Request) -> SandboxResponse:
        event = self._listed(self._event_param(request))
        limit, offset = self._paging(request, 50)
        rows = event.attendees if event else []
        return SandboxResponse.json({
            "total_records": str(len(rows)),
            "limit": str(limit),
            "offset": str(offset),
            "attendees": [self.profile.thin(self._attendee_json(row), ATTENDEE_SHAPE)
                          for row in _page(rows, offset, limit)],
        })

    def _get_sessions(self, request: Request) -> SandboxResponse:
        event = self._listed(self._event_param(request, by_api_key=False))
        limit, offset = self._paging(request, 50)
        sessions = event.sessions if event else []
        return SandboxResponse.json({
            "total records": len(sessions),
            "limit": str(limit),
            "offset": offset,
            "sessions": [
                self.profile.thin(self._session_json(session), SESSION_SHAPE)
                for session in _page(sessions, offset, limit)
            ],
        })

    def _ended_sessions(self, request: Request, *, event_required: bool) -> list[Session]:
        """Ended sessions selected by event and the session_id / session_reference_id filters."""
        if event_required:
            event = self._event_param(request)
            events = [event] if event else []
        else:
            events = self._events_param(request)
        events = self._with_children(events)
        session_id, reference_id = request.get_str("session_id"), request.get_str("session_reference_id")
        return [
            s for e in events for s in e.sessions
            if s.ended
            and (session_id is None or str(s.id) == session_id)
            and (reference_id is None or s.reference_id == reference_id)
        ]

    def _get_session_attendance(self, request: Request) -> SandboxResponse:
        limit, offset = self._paging(request, 50)
        sessions = self._ended_sessions(request, event_required=False)
        total, page = _page_chain(((s, s.attendance) for s in sessions), offset, limit)
        return SandboxResponse.json({
            "total_records": total,
            "limit": limit,
            "offset": offset,
            "attendees": [
                self.profile.thin(self._session_attendance_json(s, row), SESSION_ATTENDANCE_SHAPE)
                for s, row in page
            ],
        })

    def _get_session_itineraries(self, request: Request) -> SandboxResponse:
        limit, offset = self._paging(request, 10)
        events = self._with_children(self._events_param(request))
        total, page = _page_chain(((e, e.sessions) for e in events), offset, limit)
        return SandboxResponse.json({
            "total_records": total,
            "limit": limit,
            "offset": offset,
            "data": [self.profile.thin(self._itinerary_json(s), ITINERARY_SHAPE) for _, s in page],
        })

    def _get_session_on_demand(self, request: Request) -> SandboxResponse:
        limit, offset = self._paging(request, 10)
        sessions = self._ended_sessions(request, event_required=True)
        return SandboxResponse.json({
            "total_records": len(sessions),
            "limit": limit,
            "offset": offset,
            "data": [
                self.profile.thin(self._on_demand_json(session), ON_DEMAND_SHAPE)
                for session in _page(sessions, offset, limit)
            ],
        })

    def _get_packages(self, request: Request) -> SandboxResponse:
        event = self._event_param(request)
        limit, offset = self._paging(request, 50)
        packages = event.packages if self._listed(event) else ()
        return SandboxResponse.json({
            "total records": len(packages),
            "limit": limit,
            "offset": offset,
            "event": self._event_block(event),
            "data": [self.profile.thin(self._package_json(event, p), PACKAGE_SHAPE)
                     for p in _page(packages, offset, limit)],
        })

    # ---- write endpoints ------------------------------------------------

    def _post_register(self, request: Request) -> SandboxResponse:
        person = self._person_param(request)
        products = self._products_param(request, "product_id", "product_api_key")
        if not products:
            raise ApiError(400, "product_id or product_api_key is required", "product_id")
        answers = self._answers_param(request)
        by_event: dict[int, tuple[Event, list[tuple[str, int]]]] = {}
        for event, kind, position in products:
            by_event.setdefault(event.id, (event, []))[1].append((kind, position))
        # Validate everything before changing anything.
        for event, _ in by_event.values():
            existing = event.registrations.get(person)
            self._check_answers(event, self._merged_answers(event, existing, answers))
        for event, items in by_event.values():
            registration = event.registrations.get(person)
            if registration is None:
                registration = self._insert_registration(event, person, _epoch(self.now), NO_PACKAGES, API_SOURCE, 0)
            self._change_products(event, registration, add=items, remove=[])
            self._store_answers(event, event.registrations[person], answers)
        return SandboxResponse.json({"status": "ok"})

    def _put_modify_registration(self, request: Request) -> SandboxResponse:
        person = self._person_param(request)
        event = self._event_param(request)
        registration = event.registrations.get(person) if event else None
        if registration is None:
            raise ApiError(404, "Registration not found")
        add = self._products_param(request, "add_product_ids", "add_product_api_keys")
        remove = self._products_param(request, "remove_product_ids", "remove_product_api_keys")
        if any(product_event is not event for product_event, _, _ in add + remove):
            raise ApiError(400, "Products must belong to the registration's event", "add_product_ids")
        answers = self._answers_param(request)
        self._check_answers(event, self._merged_answers(event, registration, answers))
        self._change_products(
            event, registration, add=[(k, p) for _, k, p in add], remove=[(k, p) for _, k, p in remove]
        )
        self._store_answers(event, event.registrations[person], answers)
        return SandboxResponse.json(MODIFIED_MESSAGE)

    def _cancel_registration(self, request: Request) -> SandboxResponse:
        person = self._person_param(request)
        events = [self._events_by_id.get(v) for v in request.get_list("event_id")]
        events += [self._events_by_key.get(v) for v in request.get_list("event_api_key")]
        if not events:
            raise ApiError(400, "event_id or event_api_key is required", "event_id")
        cancelled = False
        for event in events:
            if event is not None and person in event.registrations:
                self._remove_registration(event, person)
                cancelled = True
        if not cancelled:
            raise ApiError(404, "Registration not found")
        return SandboxResponse.json(CANCELED_MESSAGE)

    def _remove_registration(self, event: Event, person: int) -> None:
        registration = event.registrations.pop(person)
        event.answers.pop(registration.id, None)
        event.registrations_changed()
        for session in event.sessions:
            while person in session.itinerary:
                session.itinerary.remove(person)

    def _products_param(self, request: Request, ids_name: str, keys_name: str) -> list[tuple[Event, str, int]]:
        products = []
        for name, index in ((ids_name, self._products), (keys_name, self._products_by_key)):
            for value in request.get_list(name):
                product = index.get(value)
                if product is None:
                    raise ApiError(404, f"Unknown product {value!r}", name)
                products.append(product)
        return products

    @staticmethod
    def _answers_param(request: Request) -> dict[int, str | None]:
        raw = request.get("registration_answers")
        if raw is None:
            return {}
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise ApiError(400, "registration_answers must be an array of objects", "registration_answers")
        answers: dict[int, str | None] = {}
        for item in raw:
            try:
                question_id = int(str(item.get("question_id")))
            except ValueError:
                raise ApiError(400, "question_id must be an integer", "registration_answers") from None
            answer = item.get("answer")
            answers[question_id] = None if answer is None else str(answer)
        return answers

    def _merged_answers(
        self, event: Event, registration: Registration | None, answers: dict[int, str | None]
    ) -> dict[int, str | None]:
        current: dict[int, str | None] = {}
        if registration is not None:
            current = {q.id: answer for q, answer in self._answers(event, registration)}
        return {**current, **answers}

    @staticmethod
    def _check_answers(event: Event, answers: dict[int, str | None]) -> None:
        questions = {q.id: q for q in event.questions}
        missing = [q.id for q in event.questions if q.required and answers.get(q.id) is None]
        if missing:
            raise ApiError(400, f"Missing required registration answers: {missing}", "registration_answers")
        for question_id, answer in answers.items():
            question = questions.get(question_id)
            if question is None:
                raise ApiError(400, f"Unknown question_id {question_id}", "registration_answers")
            if answer is not None and question.options and answer not in question.options:
                raise ApiError(400, f"Answer to question {question_id} must be one of its options",
                               "registration_answers")

    @staticmethod
    def _store_answers(event: Event, registration: Registration, answers: dict[int, str | None]) -> None:
        if answers:
            event.answers.setdefault(registration.id, {}).update(answers)

    @staticmethod
    def _change_products(
        event: Event, registration: Registration, *, add: list[tuple[str, int]], remove: list[tuple[str, int]]
    ) -> None:
        packages = set(registration.packages)
        for kind, position in add:
            if kind == "package":
                packages.add(position)
            elif registration.person not in event.sessions[position].itinerary:
                event.sessions[position].itinerary.append(registration.person)
        for kind, position in remove:
            if kind == "package":
                packages.discard(position)
            else:
                itinerary = event.sessions[position].itinerary
                while registration.person in itinerary:
                    itinerary.remove(registration.person)
        if packages != set(registration.packages):
            event.registrations[registration.person] = registration._replace(packages=tuple(sorted(packages)))
            event.registrations_changed()


# Registrant keys carrying the "user-" prefix, in the document's order.
REGISTRANT_USER_FIELDS = (
    "prefix", "first_name", "middle_name", "last_name", "suffix", "credentials", "title", "company",
    "address_1", "address_2", "city", "state", "zip_code", "country", "phone", "image_url",
    "member_number", "api_username", "designation",
)

ROUTES: dict[str, dict[str, Handler]] = {
    API_PREFIX: {"GET": OpusSandbox._get_events},
    f"{API_PREFIX}/user": {"GET": OpusSandbox._get_user_events},
    SPEAKERS_PATH: {"GET": OpusSandbox._get_speakers},
    f"{API_PREFIX}/speakers": {"GET": OpusSandbox._get_speakers},  # alias without "/opus"
    f"{API_PREFIX}/registrants": {"GET": OpusSandbox._get_registrants},
    f"{API_PREFIX}/attendees": {"GET": OpusSandbox._get_attendees},
    f"{API_PREFIX}/sessions": {"GET": OpusSandbox._get_sessions},
    f"{API_PREFIX}/sessionattendance": {"GET": OpusSandbox._get_session_attendance},
    f"{API_PREFIX}/sessionitineraries": {"GET": OpusSandbox._get_session_itineraries},
    f"{API_PREFIX}/sessionondemand": {"GET": OpusSandbox._get_session_on_demand},
    f"{API_PREFIX}/packages": {"GET": OpusSandbox._get_packages},
    f"{API_PREFIX}/register": {"POST": OpusSandbox._post_register},
    f"{API_PREFIX}/modify_registration": {"PUT": OpusSandbox._put_modify_registration},
    f"{API_PREFIX}/cancel_registration": {"DELETE": OpusSandbox._cancel_registration},
}


# The app `sandboxes.registry` serves for this vendor.
SANDBOX = OpusSandbox

"""OPUS DX's sample responses as its doc prints them, and the routes that serve them.

Each sample is kept page by page exactly as printed (a page break splits several of
them); `Sample.text()` joins the pages and makes only the changes a server must make
to send it, each one a `Fix` with a comment saying what and why. The doc is the only
specification: the paths below are taken from it, not from the source.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.doc_samples.server import Answer, Handler, Request

DOC = "opus-dx-events-api-v1.txt"

EVENTS_PATH = "/rest/api/v1/events"
USER_EVENTS_PATH = "/rest/api/v1/events/user"
# The doc prints the speakers URL under a prefix of its own.
SPEAKERS_PATH = "/rest/opus/api/v1/events/speakers"
REGISTRANTS_PATH = "/rest/api/v1/events/registrants"
ATTENDEES_PATH = "/rest/api/v1/events/attendees"
SESSIONS_PATH = "/rest/api/v1/events/sessions"
SESSION_ATTENDANCE_PATH = "/rest/api/v1/events/sessionattendance"
SESSION_ITINERARIES_PATH = "/rest/api/v1/events/sessionitineraries"
REGISTER_PATH = "/rest/api/v1/events/register"
MODIFY_REGISTRATION_PATH = "/rest/api/v1/events/modify_registration"
CANCEL_REGISTRATION_PATH = "/rest/api/v1/events/cancel_registration"
SESSION_ON_DEMAND_PATH = "/rest/api/v1/events/sessionondemand"
PACKAGES_PATH = "/rest/api/v1/events/packages"

# The documented page sizes: "Default: 50" unless the endpoint says otherwise.
DEFAULT_LIMIT = 50
SPEAKERS_DEFAULT_LIMIT, SPEAKERS_MAX_LIMIT = 10, 50
SESSION_LISTS_DEFAULT_LIMIT = 10

# The doc prints no id for its one event; 21 is the event id of its modify_registration
# example. Every per-event sample is this event's.
EVENT_ID = "21"
# The registrants and packages samples name the event; the events template leaves it blank.
EVENT_NAME = "Sample Event Name"
# The events template has no dates. The doc's sessions all fall on 2019-10-11, so the event
# is given exactly their span: from the first one's start to the last one's end (UTC, as
# the doc says every start and end date is).
EVENT_START = "2019-10-11 08:30:00"
EVENT_END = "2019-10-11 11:45:00"


@dataclass(frozen=True)
class Fix:
    """One change a server must make to a printed sample: `printed` (printed once) becomes `served`."""

    printed: str
    served: str


@dataclass(frozen=True)
class Sample:
    """A sample response: its pages as printed, and the fixes that make it a response."""

    pages: tuple[str, ...]
    fixes: tuple[Fix, ...] = ()

    def text(self) -> str:
        """The pages joined where the page breaks split them, with every fix made."""
        text = "\n".join(self.pages)
        for fix in self.fixes:
            found = text.count(fix.printed)
            if found != 1:
                raise ValueError(f"a fix expects {fix.printed!r} printed once in the sample, found {found}")
            text = text.replace(fix.printed, fix.served)
        return text

    def payload(self) -> Any:
        return json.loads(self.text())


# --- the samples, in the doc's order --------------------------------------------------

EVENTS = Sample(
    pages=(
        """\
[
  {""",
        """\
        "total_records": "",
        "limit": "",
        "offset": "",

events ": [
{
    "id": "",
    "api_key": "",
    "name": "",
    "template": "",
    "type": "",
    "category": "",
    "slug": "",
    "Icon": "",
    "banner": "",
    "description": "",
    "start_date": "",
    "end_date": "",
    "timezone": "",
    "url": "",
    "registration_questions": {
        "<id>": {
            "id": "",
            "label": "",
            "type": "",
            "api_name": "",
            "display_order": "",
            "required": "",
            "answers": [
                {
                    "answer_id": "",
                    "value": "",
                    "display_order": ""
                }
            ]
        }
    }
}
]
}""",
    ),
    fixes=(
        # The key is printed without its opening quote, which leaves the JSON unreadable;
        # the quote is added, the key's stray trailing space kept as printed.
        Fix('\nevents ": [', '\n"events ": ['),
        # An event with an empty id cannot be told from another or asked for its lists.
        Fix('{\n    "id": "",', '{\n    "id": "' + EVENT_ID + '",'),
        Fix('"name": "",', '"name": "' + EVENT_NAME + '",'),
        # An event without dates is not an event that happened: see EVENT_START.
        Fix('"start_date": "",', '"start_date": "' + EVENT_START + '",'),
        Fix('"end_date": "",', '"end_date": "' + EVENT_END + '",'),
        # The response opens with `[` (the first page) that is never closed.
        Fix("\n}\n]\n}", "\n}\n]\n}\n]"),
    ),
)

# Served as the doc's shape with an empty list: the template holds no real event.
USER_EVENTS = Sample(
    pages=(
        """\
[
  {
    "total_records": "",
    "limit": "",
    "offset": "",

    events ": [
      {
        "id": "",
        "api_key": "",
        "name": "",
        "type": "",
        "slug": "",
        "Icon": "",
        "banner": "",
        "description": "",
        "start_date": "",
        "end_date": "",
        "url": ""
      }
    ]
  }
]""",
    ),
    # The same unquoted key as in the events sample.
    fixes=(Fix('\n    events ": [', '\n    "events ": ['),),
)

# Served as the doc's shape with an empty list: a template of empty strings, no real speaker.
SPEAKERS = Sample(
    pages=(
        """\
{
  "total_records": "",
  "limit": 10,
  "offset": 0,
  "speakers": [
    {
      "id": "",
      "salutation": "",
      "first_name": "",
      "Middle_name": "",
      "last_name": "",
      "credentials": "",
      "company": "",
      "title": "",
      "Icon": "",
      "description": "",
      "email": "",
      "identification": "",
      "created_at": "",
      "updated_at": "",
      "suffix": "",
      "api_key": ""
    }
  ]
}""",
    ),
)

REGISTRANTS = Sample(
    pages=(
        """\
{
  "total records": 1,
  "limit": 1,
  "offset": 0,
  "event": {
    "event_name": "Sample Event Name",
    "event_api_key": "",
    "event_type": "",
    "event_category": ""
  },
  "registrants": [
    {
      "user_id": "123456",
      "email": "test@example.com",
      "registration_id": "56789",
      "user-prefix": "",
      "user-first_name": "Patrick",
      "user-middle_name": "",
      "user-last_name": "Test Last Name",
      "user-suffix": "",
      "user-credentials": ""
    }
  ]
}""",
        """\
"user-title": "",
"user-company": "",
"user-address_1": "",
"user-address_2": "",
"user-city": "",
"user-state": "",
"user-zip_code": "",
"user-country": "USA",
"user-phone": "",
"user-image_url": "",
"user-member_number": "",
"user-api_username": "",
"user-designation": "other",
"member": "0",
"source": "web",
"registered": "2020-04-29 17:23:04",
"attributes": [],
"packages": [
  {
    "id": "58514",
    "identification": "AAT20ON",
    "api_key": "",
    "name": "Main Conference",
    "package_type": null
  }
],
"questions": [],
"access_codes": {
  "accesscode_used": "",
  "accesscode_description": ""
}
}
]
}""",
    ),
    fixes=(
        # The first page closes the registrant, the list and the document although the
        # registrant goes on after the page break, where the second page closes all three
        # again: the early closers go, and a comma joins the registrant's two halves.
        Fix('"user-credentials": ""\n    }\n  ]\n}\n"user-title"', '"user-credentials": "",\n"user-title"'),
    ),
)

# Served as the doc's shape with an empty list: a template of empty strings. Filling its
# id would invent an attendee the doc does not describe (no one's email, name or time).
ATTENDEES = Sample(
    pages=(
        """\
{
  "total_records": "",
  "limit": "",
  "offset": "",
  "attendees": [
    {
      "id": "",
      "email": "",
      "first_name": "",
      "last_name": "",
      "middle_name": "",
      "api_username": "",
      "title": "",
      "company": "",
      "image_url": "",
      "alertness": "",
      "alertness_issued": "",
      "alertness_required": "",
      "total_time": "",
      "total_seconds": ""
    }
  ]
}""",
    ),
)

SESSIONS = Sample(
    pages=(
        """\
{
  "total records": 2,
  "limit": "2",
  "offset": 0,
  "sessions":
  [
    {
      "id": "1961",
      "product_id": "15598",
      "api_key": "",
      "reference_id": "",
      "identification": "105",
      "title": "Product 1",
      "start_date_time": "2019-10-11 08:30:00",
      "end_date_time": "2019-10-11 10:00:00",
      "description": "Test Description",
      "speaker_ids": {
        "3339": {
          "distinction": "Author"
        }
      },
      "ce": {
        "test_id": "106372",
        "credits": "1.50 CH | 0.50 Rx",
        "expiration_date": "2021-10-14 23:59:59",""",
        """\
        "active": "1"
    },
    "prices": [
        {
            "type": "member",
            "price": "20.00",
            "group_id": "7",
            "group_name": "Members"
        },
        {
            "type": "normal",
            "price": "40.00",
            "group_id": "0",
            "group_name": ""
        }
    ]
},
{
    "id": "1966",
    "product_id": "15603",
    "api_key": "",
    "reference_id": "",
    "identification": "103",
    "title": "Product 2",
    "start_date_time": "2019-10-11 10:15:00",
    "end_date_time": "2019-10-11 11:45:00",
    "description": "Test Description",
    "speaker_ids": {
        "3339": {
            "distinction": "Author"
        }
    },
    "ce": {
        "test_id": "106377",
        "credits": "1.50 CH | 0.50 Rx",
        "expiration_date": "2021-10-14 23:59:59",
        "active": "1"
    },
    "alertness_issued": "0",
    "alertness_required": "0"
}
]
}""",
    ),
)

SESSION_ATTENDANCE = Sample(
    pages=(
        """\
{
  "total_records":3,
  "limit":10,
  "offset":0,
  "attendees":[
    {
      "user_id":"1",
      "product_title":"Test Session 1",
      "product_identification":"SES104",
      "email":"testuser1@digitellinc.com",
      "first_name":"Test User 1",
      "last_name":"Test User 2",
      "middle_name":"",
      "api_username":"555555",""",
        """\
        "title": "",
        "company": "Test Company",
        "image_url": "",
        "alertness": "0",
        "alertness_issued": "30",
        "alertness_required": "0",
        "total_time": "06h 56m 31s",
        "total_seconds": "24991"
    },
    {
        "user_id": "1",
        "product_title": "Test Session 2",
        "product_identification": "SES100",
        "email": "testuser1@digitellinc.com",
        "first_name": "Test User 1",
        "last_name": "Test User 2",
        "middle_name": "",
        "api_username": "555555",
        "title": "",
        "company": "Test Company",
        "image_url": "",
        "alertness": "0",
        "alertness_issued": "30",
        "alertness_required": "0",
        "total_time": "06h 56m 31s",
        "total_seconds": "24991"
    },
    {
        "user_id": "2",
        "product_title": "Test Session 1",
        "product_identification": "SES104",
        "email": "testuser2@digitellinc.com",
        "first_name": "Test User 2",
        "last_name": "Test User 2",
        "middle_name": "",
        "api_username": "1062231",
        "title": "",
        "company": "Sample Company",
        "image_url": "",
        "alertness": "0",
        "alertness_issued": "30",
        "alertness_required": "0",
        "total_time": "06h 56m 31s",
        "total_seconds": "24991"
    }
]
}""",
    ),
)

# Served as the doc's shape with an empty list: a template of empty strings, no real session.
SESSION_ITINERARIES = Sample(
    pages=(
        """\
{
  "total_records": 0,
  "limit": 10,
  "offset": 0,
  "data": [
    {
      "id": "",
      "product_id": "",
      "api_key": "",
      "reference_id": "",
      "identification": "",
      "title": "",
      "start_date_time": "",
      "end_date_time": "",
      "description": "",
      "itinerary_users_list": [
        {
          "id": "",
          "first_name": "",
          "last_name": "",
          "api_username": "",
          "email": ""
        }
      ]
    }
  ]
}""",
    ),
)

REGISTERED = Sample(
    pages=(
        """\
{
  "status": "ok"
}""",
    ),
)
MODIFIED = Sample(pages=("\"You have successfully modified this user's registration.\"",))
CANCELLED = Sample(pages=("\"You have successfully canceled this user's registration.\"",))

# Served as the doc's shape with an empty list: a template of empty strings, no real session.
SESSION_ON_DEMAND = Sample(
    pages=(
        """\
{
  "total_records": 0,
  "limit": 10,
  "offset": 0,
  "data": [
    {
      "product_id": "",
      "session_id": "",
      "api_key": "",
      "reference_id": "",
      "identification": "",
      "title": "",
      "start_date_time": "",
      "end_date_time": "",
      "description": "",
      "total_views": "",
      "total_time": "",
      "users": [
        {
          "id": "",""",
        """\
    "first_name": "",
    "last_name": "",
    "api_username": "",
    "email": "",
    "total_playing_time": "",
    "total_time": ""
  }
]
}
]
}""",
    ),
)

# Served as the doc's shape with an empty list, as on an account's first morning before
# packages are set up: its one package is dated 2021, long after this event.
PACKAGES = Sample(
    pages=(
        """\
{
  "total records": 1,
  "limit": 1,
  "offset": 0,
  "event": {
    "event_name": "Sample Event Name",
    "event_api_key": "",
    "event_type": "",
    "event_category": ""
  },
  "data": [
    {
      "product_id": "58514",
      "identification": "AAT200N",
      "api_key": "",
      "name": "Main Conference",
      "start_date_time": "2021-06-07 00:00:00",
      "end_date_time": "2021-06-09 00:00:00",
      "package_type": null,
      "package_category": null,
      "prices": [
        {
          "type": null,""",
        """\
        "price":null,
        "group_id":null,
        "Group_name":""
    }
}
},
],
}
]
}""",
    ),
    fixes=(
        # The printed closers do not match what they close (`} } }, ], } ] }` after the
        # price): the price, the prices list, the package, the data list and the document
        # close as `} ] } ] }`.
        Fix('"Group_name":""\n    }\n}\n},\n],\n}\n]\n}', '"Group_name":""\n    }\n]\n}\n]\n}'),
    ),
)

SAMPLES: dict[str, Sample] = {
    "events": EVENTS,
    "user_events": USER_EVENTS,
    "speakers": SPEAKERS,
    "registrants": REGISTRANTS,
    "attendees": ATTENDEES,
    "sessions": SESSIONS,
    "session_attendance": SESSION_ATTENDANCE,
    "session_itineraries": SESSION_ITINERARIES,
    "registered": REGISTERED,
    "modified": MODIFIED,
    "cancelled": CANCELLED,
    "session_on_demand": SESSION_ON_DEMAND,
    "packages": PACKAGES,
}


# --- serving them ---------------------------------------------------------------------

Listed = Callable[[Mapping[str, Any], Request], bool]


def routes() -> dict[tuple[str, str], Handler]:
    """Every endpoint of the doc, answering its sample."""
    return {
        ("GET", EVENTS_PATH): listing(EVENTS, "events", DEFAULT_LIMIT, listed=event_listed),
        ("GET", USER_EVENTS_PATH): empty_listing(USER_EVENTS, "events", DEFAULT_LIMIT),
        ("GET", SPEAKERS_PATH): empty_listing(SPEAKERS, "speakers", SPEAKERS_DEFAULT_LIMIT,
                                              SPEAKERS_MAX_LIMIT),
        ("GET", REGISTRANTS_PATH): listing(REGISTRANTS, "registrants", DEFAULT_LIMIT),
        ("GET", ATTENDEES_PATH): empty_listing(ATTENDEES, "attendees", DEFAULT_LIMIT),
        ("GET", SESSIONS_PATH): listing(SESSIONS, "sessions", DEFAULT_LIMIT),
        ("GET", SESSION_ATTENDANCE_PATH): listing(SESSION_ATTENDANCE, "attendees", DEFAULT_LIMIT),
        ("GET", SESSION_ITINERARIES_PATH): empty_listing(SESSION_ITINERARIES, "data",
                                                          SESSION_LISTS_DEFAULT_LIMIT),
        ("POST", REGISTER_PATH): constant(REGISTERED),
        ("PUT", MODIFY_REGISTRATION_PATH): constant(MODIFIED),
        ("DELETE", CANCEL_REGISTRATION_PATH): constant(CANCELLED),
        ("GET", SESSION_ON_DEMAND_PATH): empty_listing(SESSION_ON_DEMAND, "data",
                                                       SESSION_LISTS_DEFAULT_LIMIT),
        ("GET", PACKAGES_PATH): empty_listing(PACKAGES, "data", DEFAULT_LIMIT),
    }


def of_the_event(item: Mapping[str, Any], request: Request) -> bool:
    """Per-event lists hold only the one event's rows."""
    return request.query.get("event_id", EVENT_ID) == EVENT_ID


def event_listed(event: Mapping[str, Any], request: Request) -> bool:
    """The events filters of the doc: event_id, and start_date/end_date on the event's dates."""
    query = request.query
    if query.get("event_id") and query["event_id"] != event["id"]:
        return False
    if query.get("date_filter_type") in ("created_at", "updated_at"):
        # The sample prints neither time, so a "changed since" filter cannot leave it out.
        return True
    if query.get("start_date") and event["start_date"][:10] < query["start_date"]:
        return False
    return not (query.get("end_date") and event["end_date"][:10] > query["end_date"])


def listing(sample: Sample, items_key: str, default_limit: int, max_limit: int | None = None,
            listed: Listed = of_the_event) -> Handler:
    """A list endpoint: the sample's rows the request asks for, `limit` rows from `offset`."""

    def handle(request: Request) -> Answer:
        payload = sample.payload()
        every = items_of(payload, items_key)
        rows = [item for item in every if listed(item, request)]
        limit, offset = page_bounds(request, default_limit, max_limit)
        page = rows[offset:offset + limit]
        if page == every:
            return Answer(sample.text())
        return Answer(json.dumps(paged(payload, items_key, page, limit, offset, len(rows))))

    return handle


def empty_listing(sample: Sample, items_key: str, default_limit: int,
                  max_limit: int | None = None) -> Handler:
    """A list endpoint with nothing to list: the sample's shape with an empty list."""

    def handle(request: Request) -> Answer:
        limit, offset = page_bounds(request, default_limit, max_limit)
        return Answer(json.dumps(paged(sample.payload(), items_key, [], limit, offset, 0)))

    return handle


def constant(sample: Sample) -> Handler:
    def handle(request: Request) -> Answer:
        return Answer(sample.text())

    return handle


def page_bounds(request: Request, default_limit: int, max_limit: int | None) -> tuple[int, int]:
    limit = int(request.query.get("limit") or default_limit)
    if max_limit is not None:
        limit = min(limit, max_limit)
    return limit, int(request.query.get("offset") or 0)


def envelope_of(payload: Any) -> dict[str, Any]:
    """The object holding the list: the events samples wrap it in a one-element array."""
    return payload[0] if isinstance(payload, list) else payload


def list_key(envelope: Mapping[str, Any], items_key: str) -> str:
    # The events samples spell their key "events " (with a space).
    return next(key for key in envelope if key.strip() == items_key)


def items_of(payload: Any, items_key: str) -> list[dict[str, Any]]:
    envelope = envelope_of(payload)
    return envelope[list_key(envelope, items_key)]


def paged(payload: Any, items_key: str, page: list[dict[str, Any]], limit: int, offset: int,
          total: int) -> Any:
    """The sample's envelope around another page than the printed one. Like the printed
    envelopes, it says what the server applied: the limit, the offset and the total."""
    payload = copy.deepcopy(payload)
    envelope = envelope_of(payload)
    envelope[list_key(envelope, items_key)] = page
    envelope["limit"], envelope["offset"] = limit, offset
    # The doc spells the total both ways; each sample keeps its own spelling.
    for key in ("total_records", "total records"):
        if key in envelope:
            envelope[key] = total
    return payload

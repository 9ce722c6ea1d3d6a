"""BRP HTTP details: the events request, date windows, streaming XML, Stockholm times."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from lxml import etree

from pipelines.http import VendorBodyError, VendorClient, VendorError, VendorHTTPError

log = logging.getLogger("turnout.brp")

EVENTS_PATH = "/events.xml"
TIMEZONE_NAME = "Europe/Stockholm"
LOCAL_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"
PARTICIPANTS = "participants"
ERRORS = "errors"
# Nested elements are flattened into columns joined by this, as dlt names nested fields.
SEPARATOR = "__"
# Never fetch or expand anything a document points to.
SAFE_PARSING = {"resolve_entities": False, "no_network": True, "load_dtd": False}

# The vendor's local times, and the UTC columns derived from them.
LOCAL_TIMES = {"lastupdate": "lastupdate_utc", "publishstart": "publishstart_utc",
               "publishend": "publishend_utc"}
TIMEPOINTS = {"bookableearliest": "bookableearliest_utc", "bookablelatest": "bookablelatest_utc"}

Row = dict[str, Any]


@dataclass
class EventRead:
    """One `<event>` as read: its flat fields and its participants (None when not asked for)."""

    event: Row
    participants: list[Row] | None = None
    # What a run writes of it: set once it is known whether the event changed or is active.
    write_event: bool = True
    write_participants: bool = True

    @property
    def event_id(self) -> str:
        return self.event["id"]


def stockholm() -> ZoneInfo:
    return ZoneInfo(TIMEZONE_NAME)


def local_to_utc(text: str | None, zone: ZoneInfo | None = None) -> dt.datetime | None:
    """A `YYYY-MM-DD HH:MM` (or `YYYY-MM-DD`) Stockholm wall-clock time in UTC.

    The repeated autumn hour reads as its first (summer-time) occurrence and a
    time skipped in spring with the winter offset, as zoneinfo's fold=0 does.
    """
    if not text:
        return None
    text = text.strip()
    for fmt in (LOCAL_FORMAT, DATE_FORMAT):
        try:
            local = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=zone or stockholm()).astimezone(dt.UTC)
    return None


def unreadable_time(event: Row) -> str | None:
    """The first local date or time field that is given but does not parse (it would land as NULL)."""
    for name in ("startdate", "enddate", *LOCAL_TIMES):
        if event.get(name) and local_to_utc(event[name]) is None:
            return name
    if event.get("startdate") and event.get("time") and local_to_utc(f"{event['startdate']} {event['time']}") is None:
        return "time"
    return None


def epoch_to_utc(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromtimestamp(int(text.strip()), dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def with_utc_times(event: Row, zone: ZoneInfo) -> Row:
    """Adds UTC columns beside the vendor's local ones; a timepoint's `timestamp` wins when present."""
    for local, utc in LOCAL_TIMES.items():
        event[utc] = local_to_utc(event.get(local), zone)
    for name, utc in TIMEPOINTS.items():
        point = f"{name}{SEPARATOR}timepoint{SEPARATOR}"
        event[utc] = (epoch_to_utc(event.get(f"{point}timestamp"))
                      or local_to_utc(event.get(f"{point}datetime"), zone))
    start_day = event.get("startdate")
    start_time = event.get("time")
    event["starts_at_utc"] = local_to_utc(f"{start_day} {start_time}" if start_day and start_time else start_day,
                                          zone)
    # The API gives no end time: an event runs to the end of its last day.
    end_day = _date(event.get("enddate")) or _date(start_day)
    event["ends_at_utc"] = (
        local_to_utc((end_day + dt.timedelta(days=1)).strftime(DATE_FORMAT), zone) if end_day else None)
    return event


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.strip(), DATE_FORMAT).date() if text else None
    except ValueError:
        return None


def date_windows(first: dt.date, last: dt.date, days: int) -> Iterator[dict[str, str]]:
    """Date filters whose answers together hold every event that ends on or after `first`.

    The API filters on start and end date only, and a course can run for
    months, so a window by start and end date misses what crosses its edges:
    each window is paired with the events ongoing on its first day. From
    `last` on, every event that starts then or later is asked for at once.
    """
    start = first
    while start < last:
        end = min(start + dt.timedelta(days=days), last)
        yield {"ongoingdate": start.isoformat()}
        yield {"startdate": start.isoformat(), "enddate": (end - dt.timedelta(days=1)).isoformat()}
        start = end
    yield {"ongoingdate": last.isoformat()}
    yield {"startdate": last.isoformat()}


def request_label(params: Mapping[str, Any]) -> str:
    """The request as errors name it: method, path and query, the api key left out."""
    query = urlencode({name: value for name, value in params.items() if name != "apikey"})
    return f"GET {EVENTS_PATH}?{query}" if query else f"GET {EVENTS_PATH}"


def describe_error_document(text: str) -> str | None:
    """`<errors><error><code>…</code><message>…</message></error></errors>` as one line."""
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(**SAFE_PARSING))
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None or root.tag != ERRORS:
        return None
    return _errors_text(root)


def _errors_text(root: etree._Element) -> str:
    parts = []
    for error in root.iter("error"):
        code = (error.findtext("code") or "").strip() or "(no code)"
        message = " ".join((error.findtext("message") or "").split())
        parts.append(f"error code {code}" + (f": {message}" if message else ""))
    return "; ".join(parts) or "an empty error document"



def read_events(client: VendorClient, params: Mapping[str, Any], zone: ZoneInfo) -> Iterator[EventRead]:
    """Yields each `<event>` of one request as soon as it has arrived.

    The body is fed to lxml's pull parser chunk by chunk and every event is
    cleared once read, so memory stays flat however large the answer. A body
    that breaks off or stops parsing is requested again (as many times as the
    client retries a request), and only events not yet yielded are yielded
    from the new answer. An error document, or a body still broken after
    every attempt, raises, naming the request.
    """
    label = request_label(params)
    delivered: set[str] = set()
    for attempt in range(1, client.retry.attempts + 1):
        try:
            with client.stream(EVENTS_PATH, params) as response:
                for read in _parse(client, client.body_chunks(response, EVENTS_PATH), zone):
                    if read.event_id not in delivered:
                        delivered.add(read.event_id)
                        yield read
            return
        except VendorError as error:
            if not _broken_body(error) or attempt == client.retry.attempts:
                final = error.after_attempts(attempt) if attempt > 1 else error
                raise final.for_request(label) from None
            log.warning("%s %s: attempt %d/%d broke off (%s); reading it again", client.title, label,
                        attempt, client.retry.attempts, error.detail)
        client.pause_before_retry(attempt)


def _broken_body(error: VendorError) -> bool:
    """A body cut short or garbled on the way, as opposed to an answer the vendor meant."""
    return isinstance(error, VendorBodyError) or (isinstance(error, VendorHTTPError) and error.status is None)


def _parse(client: VendorClient, chunks: Iterator[bytes], zone: ZoneInfo) -> Iterator[EventRead]:
    parser = etree.XMLPullParser(events=("end",), tag="event", huge_tree=True, **SAFE_PARSING)
    read = 0
    try:
        for chunk in chunks:
            parser.feed(chunk)
            for _, element in parser.read_events():
                yield _event_read(client, element, read, zone)
                read += 1
                _forget(element)
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        raise client.response_error(EVENTS_PATH, f"malformed XML after {read} events ({exc.msg})",
                                    cls=VendorBodyError) from None
    if root.tag == ERRORS:
        raise client.response_error(EVENTS_PATH, f"the API answered {_errors_text(root)}")
    if root.tag != "events":
        raise client.response_error(EVENTS_PATH, f"expected an <events> document, got <{root.tag}>")


def _forget(element: etree._Element) -> None:
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _event_read(client: VendorClient, element: etree._Element, position: int, zone: ZoneInfo) -> EventRead:
    event: Row = {}
    participants = None
    for child in element:
        if child.tag == PARTICIPANTS:
            participants = [_flat(participant) for participant in child if isinstance(participant.tag, str)]
        else:
            _flatten_into(event, child, child.tag)
    if not event.get("id"):
        missing = "has no <id>" if "id" not in event else "has an empty <id>"
        raise client.response_error(EVENTS_PATH, f"the <event> at position {position} {missing}")
    unreadable = unreadable_time(event)
    if unreadable:
        raise client.response_error(
            EVENTS_PATH, f"the <event> at position {position} (id {event['id']}): <{unreadable}> "
                         f"does not parse as a date/time: {event[unreadable]!r}")
    if any(not participant.get("eventbookingid") for participant in participants or ()):
        raise client.response_error(
            EVENTS_PATH, f"a participant of event {event['id']} has no <eventbookingid>")
    return EventRead(with_utc_times(event, zone), participants)


def _flat(element: etree._Element) -> Row:
    row: Row = {}
    for child in element:
        _flatten_into(row, child, child.tag)
    return row


def _flatten_into(row: Row, element: etree._Element, name: str) -> None:
    if not isinstance(element.tag, str):
        return  # comments and processing instructions
    if len(element):
        for child in element:
            _flatten_into(row, child, f"{name}{SEPARATOR}{child.tag}")
        return
    text = (element.text or "").strip()
    row[name] = text or None

"""OPUS DX: events, sessions, speakers, packages, registrations and attendance.

Events are read incrementally: the first run lists every event, later runs list
the events updated since the last run (minus a lookback) plus every event still
in the active window. Each child list is then re-read for exactly those events.
Registrations and attendance are versioned per event, so a registration the
vendor stops listing is kept, retired on the day it was first seen gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from pipelines.http import VendorClient
from pipelines.opus import helpers
from pipelines.opus.helpers import paginate
from pipelines.opus.sandbox import OpusSandbox
from pipelines.vendor import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_WINDOW_DAYS_AFTER_END,
    Vendor,
    resolve_as_of,
    scd2_by_event,
)

NAME = "opus"
TITLE = "OPUS DX"
# OPUS lists events by start date only; an event that ended inside the window
# started at most this many days before its end.
MAX_EVENT_SPAN_DAYS = 14

EventRow = dict[str, Any]


@dlt.source(name=NAME, max_table_nesting=1)
def opus_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    as_of: str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    window_days_after_end: int = DEFAULT_WINDOW_DAYS_AFTER_END,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> Iterable[DltResource]:
    """All OPUS DX entities for the events that changed or are still active on `as_of`."""
    run_date = resolve_as_of(as_of)
    # Raw tables keep the vendor's strings; staging parses dates once, in one place.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    client = VendorClient(
        NAME, TITLE, base_url, params={"api_key": api_key}, max_in_flight=max_in_flight
    )
    event_list = events(client, run_date, lookback_days, window_days_after_end)
    per_event = scd2_by_event(run_date)
    return (
        event_list,
        event_list | sessions(client),
        event_list | speakers(client),
        event_list | packages(client),
        event_list | registrants(client).apply_hints(write_disposition=per_event),
        event_list | attendees(client).apply_hints(write_disposition=per_event),
        event_list | session_attendance(client).apply_hints(write_disposition=per_event),
        event_list | session_itineraries(client),
        event_list | session_on_demand(client),
    )


def events(
    client: VendorClient, run_date: dt.date, lookback_days: int, window_days_after_end: int
) -> DltResource:
    @dlt.resource(name="events", primary_key="id", write_disposition="merge")
    def event_list() -> Iterator[list[EventRow]]:
        """Yields events; key `id`. `registration_questions` becomes a list."""
        state = dlt.current.resource_state()
        last_run = state.get("last_run_date")
        if last_run is None:
            pages = paginate(client, helpers.EVENTS_PATH, "events")
        else:
            changed_since = dt.date.fromisoformat(last_run) - dt.timedelta(days=lookback_days)
            pages = _changed_or_active_events(client, run_date, changed_since, window_days_after_end)
        seen: set[str] = set()
        for page in pages:
            fresh = [_clean_event(event) for event in page if str(event.get("id")) not in seen]
            seen.update(event["id"] for event in fresh)
            if fresh:
                yield fresh
        state["last_run_date"] = max(run_date.isoformat(), last_run or "")

    return event_list


def _changed_or_active_events(
    client: VendorClient, run_date: dt.date, changed_since: dt.date, window_days_after_end: int
) -> Iterator[list[EventRow]]:
    yield from paginate(
        client,
        helpers.EVENTS_PATH,
        "events",
        {"date_filter_type": "updated_at", "start_date": changed_since.isoformat()},
    )
    window_start = run_date - dt.timedelta(days=window_days_after_end)
    earliest_start = window_start - dt.timedelta(days=MAX_EVENT_SPAN_DAYS)
    for page in paginate(
        client, helpers.EVENTS_PATH, "events", {"start_date": earliest_start.isoformat()}
    ):
        yield [event for event in page if _ends_on_or_after(event, window_start)]


def _ends_on_or_after(event: EventRow, day: dt.date) -> bool:
    end = str(event.get("end_date") or "")
    # An event without a parseable end date is kept: re-reading it is harmless.
    return end[:10] >= day.isoformat() if len(end) >= 10 else True


def _clean_event(event: EventRow) -> EventRow:
    event = dict(event)
    event["id"] = str(event["id"])
    event["registration_questions"] = helpers.keyed_object_to_list(
        event.get("registration_questions"), "question_id"
    )
    return event


def _per_event(
    client: VendorClient,
    path: str,
    items_key: str,
    clean: Callable[[dict[str, Any]], dict[str, Any]] = dict,
    page_size: int = helpers.DEFAULT_PAGE_SIZE,
) -> Callable[[list[EventRow]], Iterator[list[dict[str, Any]]]]:
    """Reads one child list for every event of a page, several events in flight at once."""

    def read_event(event: EventRow) -> list[dict[str, Any]]:
        rows = []
        for page in paginate(client, path, items_key, {"event_id": event["id"]}, page_size):
            for item in page:
                row = clean(item)
                row["event_id"] = event["id"]
                rows.append(row)
        return rows

    def read_page(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        for rows in client.map_in_flight(read_event, event_page):
            if rows:
                yield rows

    return read_page


def sessions(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.SESSIONS_PATH, "sessions", _clean_session)

    @dlt.transformer(name="sessions", primary_key="id", write_disposition="merge")
    def session_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields sessions of each event; key `id`. `speaker_ids` becomes a list."""
        yield from read(event_page)

    return session_list


def _clean_session(session: dict[str, Any]) -> dict[str, Any]:
    session = dict(session)
    session["speaker_ids"] = helpers.keyed_object_to_list(session.get("speaker_ids"), "speaker_id")
    return session


def speakers(client: VendorClient) -> DltResource:
    read = _per_event(
        client, helpers.SPEAKERS_PATH, "speakers", page_size=helpers.SPEAKERS_PAGE_SIZE
    )

    @dlt.transformer(name="speakers", primary_key=("event_id", "id"), write_disposition="merge")
    def speaker_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields the speakers of each event; key (`event_id`, `id`)."""
        yield from read(event_page)

    return speaker_list


def packages(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.PACKAGES_PATH, "data")

    @dlt.transformer(
        name="packages", primary_key=("event_id", "product_id"), write_disposition="merge"
    )
    def package_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields the registration packages of each event; key (`event_id`, `product_id`)."""
        yield from read(event_page)

    return package_list


def registrants(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.REGISTRANTS_PATH, "registrants")

    @dlt.transformer(
        name="registrants", primary_key=("event_id", "registration_id"), merge_key="event_id"
    )
    def registrant_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields the current registrations of each event; key (`event_id`, `registration_id`).

        Versioned per event: one the vendor stopped listing keeps its last version,
        with `_dlt_valid_to` set to when it was first seen gone.
        """
        yield from read(event_page)

    return registrant_list


def attendees(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.ATTENDEES_PATH, "attendees")

    @dlt.transformer(name="attendees", primary_key=("event_id", "id"), merge_key="event_id")
    def attendee_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields event-level attendance totals per person; key (`event_id`, `id`)."""
        yield from read(event_page)

    return attendee_list


def session_attendance(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.SESSION_ATTENDANCE_PATH, "attendees")

    @dlt.transformer(
        name="session_attendance",
        primary_key=("event_id", "user_id", "product_identification"),
        merge_key="event_id",
    )
    def attendance_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields one row per person and session attended.

        Key (`event_id`, `user_id`, `product_identification`): the API names the
        session only by its identification, unique within an event.
        """
        yield from read(event_page)

    return attendance_list


def session_itineraries(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.SESSION_ITINERARIES_PATH, "data")

    @dlt.transformer(
        name="session_itineraries", primary_key=("event_id", "id"), write_disposition="merge"
    )
    def itinerary_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields each session with the people who put it on their itinerary; key (`event_id`, `id`)."""
        yield from read(event_page)

    return itinerary_list


def session_on_demand(client: VendorClient) -> DltResource:
    read = _per_event(client, helpers.SESSION_ON_DEMAND_PATH, "data")

    @dlt.transformer(
        name="session_on_demand",
        primary_key=("event_id", "product_id"),
        write_disposition="merge",
    )
    def on_demand_list(event_page: list[EventRow]) -> Iterator[list[dict[str, Any]]]:
        """Yields on-demand sessions with their viewers; key (`event_id`, `product_id`)."""
        yield from read(event_page)

    return on_demand_list


VENDOR = Vendor(
    name=NAME,
    title=TITLE,
    source=opus_source,
    sandbox=OpusSandbox,
    required_settings=("base_url", "api_key"),
)

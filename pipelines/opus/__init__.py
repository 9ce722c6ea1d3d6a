"""OPUS DX: events, sessions, speakers, packages, registrations and attendance.

Events are read incrementally: the first run lists every event, later runs list
the events updated since the last run (minus a lookback) plus every event still
in the active window. Each child list is then re-read for exactly those events.
Registrations and attendance are versioned per event, so a registration the
vendor stops listing is kept, retired on the day it was first seen gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from pipelines.cursor import ChangeCursor
from pipelines.http import DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_BACKOFF, VendorClient, retry_policy
from pipelines.http import request_timeout as http_timeout
from pipelines.lists import VERSIONED, ChildList, in_batches, or_empty_table, per_event_transformer
from pipelines.opus import helpers, shape
from pipelines.opus.helpers import paginate
from pipelines.vendor import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_WINDOW_DAYS_AFTER_END,
    Vendor,
    resolve_as_of,
)

NAME = "opus"
TITLE = "OPUS DX"
# The date of the last run, in the events resource's state: what the next run reads changes since.
RUN_DATE_STATE_KEY = "last_run_date"
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
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Iterable[DltResource]:
    """All OPUS DX entities for the events that changed or are still active on `as_of`."""
    run_date = resolve_as_of(as_of)
    # Raw tables keep the vendor's strings; staging parses dates once, in one place.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    client = VendorClient(
        NAME, TITLE, base_url, params={"api_key": api_key}, max_in_flight=max_in_flight,
        timeout=http_timeout(request_timeout), retry=retry_policy(retry_backoff),
    )
    event_list = events(client, run_date, lookback_days, window_days_after_end)
    return (event_list, *(event_list | child_list(client, spec, run_date) for spec in CHILD_LISTS))


def events(
    client: VendorClient, run_date: dt.date, lookback_days: int, window_days_after_end: int
) -> DltResource:
    @dlt.resource(name="events", primary_key="id", write_disposition="merge", columns=shape.EVENTS)
    def event_list() -> Iterator[Any]:
        """Yields events; key `id`. `registration_questions` becomes a list."""
        # OPUS marks no change time: the cursor is the date of the last run.
        cursor = ChangeCursor.of_resource(RUN_DATE_STATE_KEY, dt.date.fromisoformat, dt.date.isoformat)
        changed_since = cursor.changed_since(dt.timedelta(days=lookback_days))
        if changed_since is None:
            pages = paginate(client, helpers.EVENTS_PATH, "events", key=helpers.EVENT_KEY, dates=helpers.EVENT_DATES)
        else:
            pages = _changed_or_active_events(client, run_date, changed_since, window_days_after_end)
        seen: set[str] = set()

        def fresh_pages() -> Iterator[list[EventRow]]:
            for page in pages:
                fresh = [_clean_event(event) for event in page if str(event.get("id")) not in seen]
                seen.update(event["id"] for event in fresh)
                yield fresh

        yield from or_empty_table(in_batches(fresh_pages()))
        cursor.saw(run_date)
        cursor.save()

    return event_list


def _changed_or_active_events(
    client: VendorClient, run_date: dt.date, changed_since: dt.date, window_days_after_end: int
) -> Iterator[list[EventRow]]:
    yield from paginate(
        client,
        helpers.EVENTS_PATH,
        "events",
        {"date_filter_type": "updated_at", "start_date": changed_since.isoformat()},
        key=helpers.EVENT_KEY,
        dates=helpers.EVENT_DATES,
    )
    window_start = run_date - dt.timedelta(days=window_days_after_end)
    earliest_start = window_start - dt.timedelta(days=MAX_EVENT_SPAN_DAYS)
    for page in paginate(
        client, helpers.EVENTS_PATH, "events", {"start_date": earliest_start.isoformat()},
        key=helpers.EVENT_KEY, dates=helpers.EVENT_DATES,
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


def _clean_session(session: dict[str, Any]) -> dict[str, Any]:
    session = dict(session)
    session["speaker_ids"] = helpers.keyed_object_to_list(session.get("speaker_ids"), "speaker_id")
    return session


CHILD_LISTS = (
    ChildList("sessions", helpers.SESSIONS_PATH, "sessions", ("id",),
              "Sessions of each event; key `id`. `speaker_ids` becomes a list.",
              clean=_clean_session, columns=shape.SESSIONS),
    ChildList("speakers", helpers.SPEAKERS_PATH, "speakers", ("event_id", "id"),
              "Speakers of each event; key (`event_id`, `id`).",
              page_size=helpers.SPEAKERS_PAGE_SIZE, columns=shape.SPEAKERS),
    ChildList("packages", helpers.PACKAGES_PATH, "data", ("event_id", "product_id"),
              "Registration packages of each event; key (`event_id`, `product_id`).",
              columns=shape.PACKAGES),
    ChildList("registrants", helpers.REGISTRANTS_PATH, "registrants", ("event_id", "registration_id"),
              "Registrations of each event; key (`event_id`, `registration_id`). One the vendor "
              "stopped listing keeps its last version, `_dlt_valid_to` set to when it was first "
              "seen gone.", kept=VERSIONED, columns=shape.REGISTRANTS),
    ChildList("attendees", helpers.ATTENDEES_PATH, "attendees", ("event_id", "id"),
              "Event-level attendance totals per person; key (`event_id`, `id`).", kept=VERSIONED,
              columns=shape.ATTENDEES),
    ChildList("session_attendance", helpers.SESSION_ATTENDANCE_PATH, "attendees",
              ("event_id", "user_id", "product_identification"),
              "One row per person and session attended; key (`event_id`, `user_id`, "
              "`product_identification`): the API names a session only by its identification, "
              "unique within an event.", kept=VERSIONED, columns=shape.SESSION_ATTENDANCE),
    ChildList("session_itineraries", helpers.SESSION_ITINERARIES_PATH, "data", ("event_id", "id"),
              "Sessions with the people who put them on their itinerary; key (`event_id`, `id`).",
              columns=shape.SESSION_ITINERARIES),
    ChildList("session_on_demand", helpers.SESSION_ON_DEMAND_PATH, "data", ("event_id", "product_id"),
              "On-demand sessions with their viewers; key (`event_id`, `product_id`).",
              columns=shape.SESSION_ON_DEMAND),
)


def child_list(client: VendorClient, spec: ChildList, run_date: dt.date) -> DltResource:
    """Reads `spec` for every event of each page of events, several events in flight at once."""

    def read_event(event: EventRow) -> list[dict[str, Any]]:
        rows = []
        params = {"event_id": event["id"]}
        page_size = spec.page_size or helpers.DEFAULT_PAGE_SIZE
        for page in paginate(client, spec.path, spec.items_key, params, page_size, key=spec.record_key("event_id")):
            for item in page:
                row = spec.clean(item)
                row["event_id"] = event["id"]
                rows.append(row)
        return spec.rows_of_event(rows, "event_id", event["id"])

    return per_event_transformer(client, read_event, spec.description, **spec.hints(run_date, "event_id"))


VENDOR = Vendor(
    name=NAME,
    title=TITLE,
    source=opus_source,
    required_settings=("base_url", "api_key"),
    secret_settings=("api_key",),
)

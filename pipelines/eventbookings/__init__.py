"""EventBookings: events, sessions, tickets, orders, attendees and waiting lists, over OAuth2.

Every run lists all events (the API filters by neither update nor end time)
and keeps those whose `updated_on` is at or after the last run's newest one,
minus a lookback, plus every event still in the active window; the first run
keeps them all. Sessions, tickets, orders, attendees and waiting lists are then re-read for
exactly those events. Attendees are versioned per event, so a ticket the
vendor stops listing (refunded, or its event cancelled) is kept, retired on
the day it was first seen gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import dlt
import httpx
from dlt.sources import DltResource

from pipelines.cursor import ChangeCursor
from pipelines.eventbookings import helpers, shape
from pipelines.eventbookings.helpers import paginate, paginate_ahead
from pipelines.http import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    VendorClient,
    retry_policy,
)
from pipelines.http import request_timeout as http_timeout
from pipelines.lists import (
    REPLACED,
    UPSERTED,
    VERSIONED,
    ChildList,
    in_batches,
    or_empty_table,
    per_event_transformer,
)
from pipelines.oauth import ClientCredentials
from pipelines.vendor import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_WINDOW_DAYS_AFTER_END,
    Vendor,
    resolve_as_of,
)

NAME = "eventbookings"
TITLE = "EventBookings"
CURSOR_STATE_KEY = "updated_on_cursor"

EventRow = dict[str, Any]


@dlt.source(name=NAME, max_table_nesting=1)
def eventbookings_source(
    base_url: str = dlt.config.value,
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    token_url: str = helpers.DEFAULT_TOKEN_URL,
    as_of: str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    window_days_after_end: int = DEFAULT_WINDOW_DAYS_AFTER_END,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    rows: int = helpers.MAX_ROWS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Iterable[DltResource]:
    """All EventBookings entities for the events that changed or are still active on `as_of`."""
    run_date = resolve_as_of(as_of)
    # Raw tables keep the vendor's strings; staging parses dates once, in one place.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    client = api_client(base_url, token_url, client_id, client_secret, max_in_flight,
                        http_timeout(request_timeout), retry_policy(retry_backoff))
    page_size = helpers.page_rows(rows)
    event_list = events(client, run_date, lookback_days, window_days_after_end, page_size)
    return (event_list, *(event_list | child_list(client, spec, run_date, page_size) for spec in CHILD_LISTS))


def api_client(
    base_url: str, token_url: str, client_id: str, client_secret: str, max_in_flight: int,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT, retry: RetryPolicy | None = None,
) -> VendorClient:
    """A client for the API whose bearer token comes from the identity server."""
    retry = retry or RetryPolicy()
    token_origin, token_path = helpers.split_url(token_url)
    token_client = VendorClient(NAME, TITLE, token_origin, secrets=[client_secret, client_id], timeout=timeout,
                                 retry=retry)
    auth = ClientCredentials(token_client, token_path, client_id, client_secret)
    client = VendorClient(NAME, TITLE, base_url, secrets=[client_secret, client_id],
                          auth=auth, max_in_flight=max_in_flight, timeout=timeout, retry=retry)
    auth.redactors.append(client.redactor)
    return client


def events(
    client: VendorClient, run_date: dt.date, lookback_days: int, window_days_after_end: int, rows: int
) -> DltResource:
    @dlt.resource(name="events", primary_key="uuid", write_disposition="merge", max_table_nesting=0,
                  columns=shape.EVENTS)
    def event_list() -> Iterator[Any]:
        """Yields events as the vendor sends them, nested parts as JSON; key `uuid`."""
        cursor = ChangeCursor.of_resource(CURSOR_STATE_KEY, helpers.parse_datetime,
                                          lambda moment: moment.strftime(helpers.DATETIME_FORMATS[0]))
        changed_since = cursor.changed_since(dt.timedelta(days=lookback_days))
        window_start = dt.datetime.combine(run_date - dt.timedelta(days=window_days_after_end), dt.time())

        def selected_pages() -> Iterator[list[EventRow]]:
            for page in paginate_ahead(client, helpers.EVENTS_PATH, "events", rows=rows, dates=helpers.EVENT_DATES):
                selected = []
                for event in page:
                    updated = helpers.parse_datetime(event.get("updated_on"))
                    cursor.saw(updated)
                    if _selected(event, updated, changed_since, window_start):
                        selected.append(event)
                yield selected

        yield from or_empty_table(in_batches(selected_pages()))
        cursor.save()

    return event_list


def _selected(
    event: EventRow, updated: dt.datetime | None, changed_since: dt.datetime | None, window_start: dt.datetime
) -> bool:
    if changed_since is None or updated is None or updated >= changed_since:
        return True  # first run, an unreadable `updated_on`, or changed since the last run
    ends = helpers.event_end(event)
    # An event without a readable end is kept: re-reading it is harmless.
    return ends is None or ends >= window_start


EVENT_KEY = "event_uuid"

CHILD_LISTS = (
    ChildList("sessions", helpers.SESSIONS_PATH, "sessions", (EVENT_KEY, "uuid"),
              "Sessions of each event, nested parts as JSON; key (`event_uuid`, `list_position`), "
              "`uuid` as sent (the doc's own sample has none). Replaced per event on every read.",
              REPLACED, max_table_nesting=0, columns=shape.SESSIONS, positional=True),
    ChildList("tickets", helpers.TICKETS_PATH, "tickets", (EVENT_KEY, "uuid"),
              "Ticket types of each event with their prices (`tickets__pricing_details`); key "
              "(`event_uuid`, `list_position`), `uuid` as sent (the doc's own sample leaves it blank). "
              "Replaced per event on every read.",
              REPLACED, clean=helpers.clean_ticket, columns=shape.TICKETS,
              nested_columns={"pricing_details": shape.TICKET_PRICING_DETAILS}, positional=True),
    ChildList("orders", helpers.ORDERS_PATH, "orders", ("uuid",),
              "Orders of each event with their line items (`orders__line_items`); key `uuid`. "
              "Refunds and cancellations update the order in place.",
              UPSERTED, columns=shape.ORDERS, nested_columns={"line_items": shape.ORDER_LINE_ITEMS}),
    ChildList("attendees", helpers.ATTENDEES_PATH, "attendees", (EVENT_KEY, "uuid"),
              "Ticket holders of each event; key (`event_uuid`, `uuid`). One the vendor stopped "
              "listing keeps its last version, `_dlt_valid_to` set to when it was first seen gone.",
              VERSIONED, columns=shape.ATTENDEES),
    ChildList("waiting_list", helpers.WAITING_LIST_PATH, "waiting_list", (EVENT_KEY, "uuid"),
              "People on each event's waiting list; key (`event_uuid`, `uuid`). One who left the list "
              "(or got a ticket) keeps the last version, `_dlt_valid_to` set to when first seen gone.",
              VERSIONED, columns=shape.WAITING_LIST),
)


def child_list(client: VendorClient, spec: ChildList, run_date: dt.date, rows: int) -> DltResource:
    """Reads `spec` for every event of each page of events, several events in flight at once."""

    def read_event(event: EventRow) -> list[dict[str, Any]]:
        event_uuid = str(event["uuid"])
        path = spec.path.format(uuid=event_uuid)
        listed = [{**spec.clean(item), EVENT_KEY: event_uuid}
                  for page in paginate(client, path, spec.items_key, rows=rows, key=spec.record_key(EVENT_KEY))
                  for item in page]
        return spec.rows_of_event(listed, EVENT_KEY, event_uuid)

    return per_event_transformer(client, read_event, spec.description, **spec.hints(run_date, EVENT_KEY))


VENDOR = Vendor(
    name=NAME,
    title=TITLE,
    source=eventbookings_source,
    required_settings=("base_url", "client_id", "client_secret"),
    secret_settings=("client_id", "client_secret"),
)

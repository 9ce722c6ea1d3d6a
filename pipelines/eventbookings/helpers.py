"""EventBookings HTTP details: paths, ``position``/``rows`` pagination, payload quirks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from pipelines.http import VendorClient
from pipelines.records import ParseDate, check_records, iso_datetime, to_int

DEFAULT_TOKEN_URL = "https://identity.eventbookings.com/connect/token"

EVENTS_PATH = "/events"
SESSIONS_PATH = "/events/{uuid}/sessions"
TICKETS_PATH = "/events/{uuid}/tickets"
ATTENDEES_PATH = "/events/{uuid}/attendees"
ORDERS_PATH = "/events/{uuid}/orders"
WAITING_LIST_PATH = "/events/{uuid}/waiting_list"

# The documented bounds of `rows`; the largest page means the fewest requests.
MIN_ROWS = 20
MAX_ROWS = 100
# Pages of the events list read at once after the first. At scale large a page of 100
# events is about 1.5 MB of JSON and 6 MiB once parsed: 8 waiting pages hold about 50 MiB,
# the default window (twice the requests in flight) about 200 MiB.
PAGES_AHEAD = 8
# Oldest first: records added while a list is paged land on later pages.
ORDER_BY = "created_ascending"
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")

Row = dict[str, Any]
RECORD_KEY = ("uuid",)


def split_url(url: str) -> tuple[str, str]:
    """(origin, path) of an absolute URL: the token endpoint lives on its own host."""
    parsed = httpx.URL(url)
    if not parsed.scheme or not parsed.host:
        raise ValueError(f"token_url must be an absolute URL, got {url!r}")
    origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
    return origin, parsed.path


def page_rows(requested: int) -> int:
    """The page size to ask for, kept within the documented 20–100."""
    return max(MIN_ROWS, min(MAX_ROWS, int(requested)))


def paginate(
    client: VendorClient,
    path: str,
    items_key: str,
    params: Mapping[str, Any] | None = None,
    rows: int = MAX_ROWS,
    dates: Mapping[str, ParseDate] | None = None,
    start: int = 0,
    key: tuple[str, ...] = RECORD_KEY,
) -> Iterator[list[Row]]:
    """Yields the pages of one list from `start` on, following `position` and `rows`.

    Stops on an empty page, on a page shorter than the rows asked for, or once
    `pagination.records` rows have been read. Every record must carry its `key`
    and readable `dates`.
    """
    position = start
    while True:
        items, records = read_page(client, path, items_key, params, position, rows, dates, key)
        if not items:
            return
        yield items
        position += len(items)
        if not goes_on(items, rows, position, records):
            return


def paginate_ahead(
    client: VendorClient,
    path: str,
    items_key: str,
    rows: int = MAX_ROWS,
    dates: Mapping[str, ParseDate] | None = None,
    pages_ahead: int = PAGES_AHEAD,
) -> Iterator[list[Row]]:
    """Yields the pages of one list like `paginate`, in order, but reads ahead.

    The first page tells how many records the list holds; the pages after it are
    requested several at once. Records added meanwhile are on pages past the planned
    ones, which are then read one after another as `paginate` would.
    """
    first, records = read_page(client, path, items_key, None, 0, rows, dates)
    if not first:
        return
    yield first
    if not goes_on(first, rows, len(first), records):
        return
    if records is None:  # no length to plan by
        yield from paginate(client, path, items_key, rows=rows, dates=dates, start=len(first))
        return
    planned = range(rows, records, rows)
    read_ahead = client.map_in_flight(
        lambda position: read_page(client, path, items_key, None, position, rows, dates),
        planned, ahead=pages_ahead)
    last, records_now = first, records
    for page in read_ahead:
        last, records_now = page
        if last:
            yield last
    end = planned[-1] + rows
    if goes_on(last, rows, end, records_now):
        yield from paginate(client, path, items_key, rows=rows, dates=dates, start=end)


def goes_on(page: list[Row], rows: int, read: int, records: int | None) -> bool:
    """Whether a list has more after `page`: it came full, and fewer than the list's
    `pagination.records` have been read (`read`, up to the end of this page)."""
    return len(page) >= rows and (records is None or read < records)


def read_page(
    client: VendorClient,
    path: str,
    items_key: str,
    params: Mapping[str, Any] | None,
    position: int,
    rows: int,
    dates: Mapping[str, ParseDate] | None = None,
    key: tuple[str, ...] = RECORD_KEY,
) -> tuple[list[Row], int | None]:
    """One page of a list at `position`, checked, and the list's `pagination.records`."""
    query = {**(params or {}), "position": position, "rows": rows, "order_by": ORDER_BY}
    payload = client.get_json(path, query)
    if not isinstance(payload, Mapping):
        raise client.response_error(path, f"expected a JSON object, got {type(payload).__name__}")
    items = payload.get(items_key)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise client.response_error(
            path, f"field '{items_key}' is {type(items).__name__} at position {position}, expected a list")
    if items_key == "sessions":
        items = flatten_session_groups(client, path, items, position)
    if items:
        check_records(client, path, f"'{items_key}' page at position {position}", items, key, dates)
    return items, to_int((payload.get("pagination") or {}).get("records"))


def flatten_session_groups(client: VendorClient, path: str, groups: list[Any], position: int) -> list[Row]:
    """Sessions come grouped by type (`[{"type", "session_lists": [...]}]`); each keeps its type."""
    sessions = []
    for group in groups:
        if not isinstance(group, Mapping) or not isinstance(group.get("session_lists", []), list):
            raise client.response_error(
                path, f"a session group at position {position} has no 'session_lists' list")
        for session in group.get("session_lists") or []:
            if isinstance(session, Mapping):
                sessions.append({"type": group.get("type"), **session})
    return sessions


def clean_ticket(ticket: Row) -> Row:
    """Donation tickets carry one `pricing_details` object instead of a list of them."""
    ticket = dict(ticket)
    pricing = ticket.get("pricing_details")
    if isinstance(pricing, Mapping):
        ticket["pricing_details"] = [dict(pricing)]
    elif pricing is None:
        ticket["pricing_details"] = []
    return ticket


def parse_datetime(value: Any) -> dt.datetime | None:
    """A naive UTC `updated_on`/`utc` value, or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    for fmt in DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    return None


def date_pairs(value: Any) -> None:
    """`attending_on`: a list of {"utc": ..., "local": ...} pairs whose UTC times parse."""
    for pair in value if isinstance(value, list) else [value]:
        if not isinstance(pair, Mapping):
            raise TypeError(type(pair).__name__)
        iso_datetime(pair["utc"])


# The times staging casts and the source plans its reads by.
EVENT_DATES: dict[str, ParseDate] = {"attending_on": date_pairs, "created_on": iso_datetime,
                                     "updated_on": iso_datetime}


def event_end(event: Mapping[str, Any]) -> dt.datetime | None:
    """The UTC end of an event: the last of its `attending_on` date pairs."""
    pairs = event.get("attending_on")
    if not isinstance(pairs, list) or not pairs or not isinstance(pairs[-1], Mapping):
        return None
    return parse_datetime(pairs[-1].get("utc"))

"""OPUS DX HTTP details: paths, offset pagination and the payload quirks of the API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipelines.http import VendorClient
from pipelines.records import ParseDate, check_records, iso_datetime, to_int

EVENTS_PATH = "/rest/api/v1/events"
# The doc puts speakers under a different prefix than every other endpoint.
SPEAKERS_PATH = "/rest/opus/api/v1/events/speakers"
REGISTRANTS_PATH = "/rest/api/v1/events/registrants"
ATTENDEES_PATH = "/rest/api/v1/events/attendees"
SESSIONS_PATH = "/rest/api/v1/events/sessions"
SESSION_ATTENDANCE_PATH = "/rest/api/v1/events/sessionattendance"
SESSION_ITINERARIES_PATH = "/rest/api/v1/events/sessionitineraries"
SESSION_ON_DEMAND_PATH = "/rest/api/v1/events/sessionondemand"
PACKAGES_PATH = "/rest/api/v1/events/packages"

# Requested page sizes: the documented maximum where there is one (speakers: 50),
# otherwise a large page; the server's echoed `limit` decides when a page is short.
DEFAULT_PAGE_SIZE = 500
SPEAKERS_PAGE_SIZE = 50

TOTAL_KEYS = ("total_records", "total records")
EVENT_KEY = ("id",)
# The times staging casts and the source plans its reads by.
EVENT_DATES: dict[str, ParseDate] = {"start_date": iso_datetime, "end_date": iso_datetime}


def paginate(
    client: VendorClient,
    path: str,
    items_key: str,
    params: Mapping[str, Any] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    key: tuple[str, ...] = (),
    dates: Mapping[str, ParseDate] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yields the pages of one list endpoint, following `limit`/`offset`.

    Stops on an empty page, on a page shorter than the limit the server applied,
    or once `total_records` (in either of its spellings) rows have been read.
    Every record must carry the `key` fields and readable `dates`.
    """
    offset = 0
    while True:
        payload = client.get_json(path, {**(params or {}), "limit": page_size, "offset": offset})
        envelope = unwrap_envelope(client, path, payload)
        items = find_items(client, path, envelope, items_key)
        if not items:
            return
        check_records(client, path, f"page at offset {offset}", items, key, dates)
        yield items
        offset += len(items)
        applied_limit = to_int(envelope.get("limit")) or page_size
        total = total_records(envelope)
        if len(items) < applied_limit or (total is not None and offset >= total):
            return


def unwrap_envelope(client: VendorClient, path: str, payload: Any) -> Mapping[str, Any]:
    """The events lists come wrapped in a one-element array; every other list does not."""
    if isinstance(payload, list):
        if not payload:
            return {}
        payload = payload[0]
    if not isinstance(payload, Mapping):
        raise client.response_error(path, f"expected a JSON object, got {type(payload).__name__}")
    return payload


def find_items(
    client: VendorClient, path: str, envelope: Mapping[str, Any], items_key: str
) -> list[dict[str, Any]]:
    if not envelope:
        return []
    # The doc spells the events key `"events "`; accept stray whitespace in keys.
    for key, value in envelope.items():
        if key.strip() == items_key:
            if value is None:
                return []
            if not isinstance(value, list):
                raise client.response_error(
                    path, f"field '{items_key}' is {type(value).__name__}, expected a list"
                )
            return value
    if total_records(envelope) == 0:
        return []
    raise client.response_error(path, f"response has no '{items_key}' list")


def total_records(envelope: Mapping[str, Any]) -> int | None:
    for key in TOTAL_KEYS:
        if key in envelope:
            return to_int(envelope[key])
    return None


def keyed_object_to_list(value: Any, key_name: str) -> list[dict[str, Any]]:
    """Turns `{"<id>": {...}}` objects into `[{key_name: id, ...}]`.

    Kept as objects they would become one column per id in the warehouse.
    """
    if not isinstance(value, Mapping):
        return []
    rows = []
    for key, item in value.items():
        row = dict(item) if isinstance(item, Mapping) else {"value": item}
        row[key_name] = str(key)
        rows.append(row)
    return rows

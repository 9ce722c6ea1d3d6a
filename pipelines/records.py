"""Checks on records as they arrive, before dlt sees them.

A record without its key, with a null key, or with a date that does not
parse would land as a row no merge can place or a time staging cannot cast.
The vendor's load fails instead, naming the request, the page, the record
and the field, and nothing of that run is loaded (earlier loads are intact).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipelines.http import VendorClient

ParseDate = Callable[[Any], object]
VALUE_CHARS = 60


def check_records(client: VendorClient, path: str, page: str, records: Sequence[Any],
                  key: Sequence[str], dates: Mapping[str, ParseDate] | None = None) -> None:
    """Raises a response error for the first record missing a key field or holding an unreadable date."""
    for number, record in enumerate(records, start=1):
        problem = record_problem(record, key, dates or {})
        if problem:
            where = f"{page}, record {number}"
            raise client.response_error(path, f"{where}: {problem}")


def record_problem(record: Any, key: Sequence[str], dates: Mapping[str, ParseDate]) -> str | None:
    if not isinstance(record, Mapping):
        return f"expected a JSON object, got {type(record).__name__}"
    for field in key:
        if field not in record:
            return f"required key field '{field}' is missing"
        if record[field] is None or str(record[field]).strip() == "":
            return f"key field '{field}' is null"
    named = ", ".join(f"{field}={record[field]!r}" for field in key)
    for field, parse in dates.items():
        value = record.get(field)
        if value is None or value == "":
            continue
        try:
            parse(value)
        except (ValueError, TypeError, OverflowError, KeyError):
            shown = repr(value)
            shown = shown if len(shown) <= VALUE_CHARS else shown[:VALUE_CHARS] + "…"
            return f"({named}) field '{field}' does not parse as a date/time: {shown}"
    return None


def iso_datetime(value: Any) -> dt.datetime:
    """'YYYY-MM-DD HH:MM:SS' (or any ISO 8601 form); anything else raises ValueError."""
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    return dt.datetime.fromisoformat(value.strip())


def epoch_milliseconds(value: Any) -> dt.datetime:
    """Milliseconds since the Unix epoch, as a number or a string of digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(type(value).__name__)
    return dt.datetime.fromtimestamp(int(str(value).strip()) / 1000, dt.UTC)


def to_int(value: Any) -> int | None:
    """Vendors send numbers as strings, sometimes empty ones."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

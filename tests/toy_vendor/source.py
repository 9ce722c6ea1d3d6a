"""Toy Events: a made-up vendor whose API lists its events at GET /events.

Copied to `pipelines/toy/__init__.py` by tests/test_fifth_vendor.py, which registers it
with one line and finds its events in the marts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import httpx
from dlt.sources import DltResource

from pipelines.lists import nullable, rows_or_empty_table
from pipelines.vendor import Vendor

NAME = "toy"
TITLE = "Toy Events"


@dlt.source(name=NAME, max_table_nesting=0)
def toy_source(base_url: str = dlt.config.value, as_of: str | None = None) -> DltResource:
    """The vendor's events; `as_of` is the run's business date (every event is read)."""
    return events(base_url)


def events(base_url: str) -> DltResource:
    @dlt.resource(name="events", primary_key="id", write_disposition="merge",
                  columns=nullable("text", ("id", "name", "starts_at", "ends_at")))
    def listed() -> Iterator[Any]:
        """Every event the vendor lists; key `id`."""
        yield rows_or_empty_table(httpx.get(f"{base_url}/events").raise_for_status().json()["events"])

    return listed


VENDOR = Vendor(name=NAME, title=TITLE, source=toy_source, required_settings=("base_url",))

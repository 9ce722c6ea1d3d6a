"""What every vendor provides, and the settings they share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dlt

if TYPE_CHECKING:
    from dlt.extract.source import DltSource
    from dlt.sources import DltResource

    from pipelines.http import VendorClient
    from pipelines.sandbox import SandboxApp

# Child lists are re-read for events that end no more than this many days ago.
DEFAULT_WINDOW_DAYS_AFTER_END = 30
# Re-read what changed since the last run minus this many days, so late or
# same-day changes are not lost; re-read rows are absorbed by the merge.
DEFAULT_LOOKBACK_DAYS = 1
DEFAULT_MAX_IN_FLIGHT = 8


@dataclass(frozen=True)
class Vendor:
    """One event platform: its dlt source, its sandbox and the settings it needs."""

    name: str
    title: str
    source: Callable[..., DltSource]
    sandbox: type[SandboxApp]
    required_settings: tuple[str, ...]

    @property
    def dataset(self) -> str:
        return f"raw_{self.name}"

    def env_name(self, setting: str) -> str:
        return f"SOURCES__{self.name.upper()}__{setting.upper()}"

    def missing_settings(self) -> list[str]:
        """Settings not found in dlt config, secrets or the environment."""
        missing = []
        for setting in self.required_settings:
            key = f"sources.{self.name}.{setting}"
            # Secrets first: dlt's run trace records values looked up as plain config.
            if dlt.secrets.get(key) is None and dlt.config.get(key) is None:
                missing.append(self.env_name(setting))
        return missing

    def source_for_specs(self) -> DltSource:
        """A source with placeholder settings: enough to describe its tables, never run."""
        placeholders = {setting: "configured-at-run-time" for setting in self.required_settings}
        return self.source(**placeholders)


def per_event_transformer(
    client: VendorClient,
    read_event: Callable[[dict[str, Any]], list[dict[str, Any]]],
    description: str,
    **hints: Any,
) -> DltResource:
    """A transformer that reads one list per event of each page of events, several in flight."""

    def per_event(event_page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        for rows in client.map_in_flight(read_event, event_page):
            if rows:
                yield rows

    per_event.__doc__ = description
    return dlt.transformer(per_event, **hints)


def to_int(value: Any) -> int | None:
    """Vendors send numbers as strings, sometimes empty ones."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def resolve_as_of(as_of: str | dt.date | None) -> dt.date:
    """The business date of a run: the schedule's date, or today in UTC."""
    if as_of is None or as_of == "":
        return dt.datetime.now(dt.UTC).date()
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    return dt.date.fromisoformat(str(as_of)[:10])


# Per-event lists are scoped to the events read in a run. An event whose list came
# back empty still needs its rows retired (or replaced by nothing): it is marked by
# one row with this column set, which takes part in the scope and never lands.
NOTHING_LISTED = "nothing_listed"
NOTHING_LISTED_COLUMN = {NOTHING_LISTED: {"data_type": "bool", "nullable": True}}


def nothing_listed(event_key: str, event_id: str, primary_key: tuple[str, ...]) -> dict[str, Any]:
    """The marker row for an event whose list is empty."""
    return {**{column: "" for column in primary_key}, event_key: event_id, NOTHING_LISTED: True}


def _scoped_to_events_read(event_key: str) -> dict[str, str]:
    return {
        "source_filter": f"{NOTHING_LISTED} IS NULL",
        "destination_scope": f"{event_key} IN (SELECT {event_key} FROM {{staging_table}})",
    }


def replaced_per_event(event_key: str) -> dict[str, Any]:
    """Write disposition for per-event lists kept as the vendor lists them now: the rows of
    every event read are deleted and the ones listed inserted again."""
    return {"disposition": "merge", "strategy": "delete-insert", **_scoped_to_events_read(event_key)}


def scd2_by_event(boundary: dt.date, event_key: str) -> dict[str, Any]:
    """Write disposition for per-event child lists.

    Rows are versioned (scd2) and retirement is scoped to the events read in
    the load: a row the vendor stopped listing for a re-read event gets its
    `_dlt_valid_to` set to when it was first seen gone, rows of events not re-read
    stay as they are. A run for today stamps the load time; a run for another
    business date (a backfill, a simulated day) stamps that date.
    """
    today = dt.datetime.now(dt.UTC).date()
    boundary_timestamp = (
        None if boundary == today else dt.datetime.combine(boundary, dt.time(), tzinfo=dt.UTC)
    )
    return {"disposition": "merge", "strategy": "scd2", "boundary_timestamp": boundary_timestamp,
            **_scoped_to_events_read(event_key)}


REPLACED, VERSIONED, UPSERTED = "replaced", "versioned", "upserted"


@dataclass(frozen=True)
class ChildList:
    """A list a vendor serves per event, and how it lands in the warehouse."""

    name: str
    path: str
    items_key: str
    primary_key: tuple[str, ...]
    description: str
    # replaced: kept as listed now; versioned: scd2, what the vendor stops listing is
    # retired, not lost; upserted: merged by key.
    kept: str = UPSERTED
    clean: Callable[[dict[str, Any]], dict[str, Any]] = dict
    max_table_nesting: int | None = None  # None: the source's
    # Parts that are null until something happens (a refund, a check-in): declared,
    # so their columns exist before the first non-null value arrives.
    nullable_text: tuple[str, ...] = ()
    page_size: int | None = None  # None: the vendor's default

    @property
    def scoped_per_event(self) -> bool:
        return self.kept in (REPLACED, VERSIONED)

    def rows_of_event(self, listed: list[dict[str, Any]], event_key: str, event_id: str) -> list[dict[str, Any]]:
        """What one event's list writes: its rows, or the marker when a scoped list is empty."""
        if not listed and self.scoped_per_event:
            return [nothing_listed(event_key, event_id, self.primary_key)]
        return listed

    def hints(self, run_date: dt.date, event_key: str) -> dict[str, Any]:
        """dlt resource hints: key, write disposition (scoped per event where kept so) and columns."""
        if self.kept == REPLACED:
            disposition: Any = replaced_per_event(event_key)
        elif self.kept == VERSIONED:
            disposition = scd2_by_event(run_date, event_key)
        else:
            disposition = "merge"
        columns: dict[str, Any] = {name: {"data_type": "text", "nullable": True} for name in self.nullable_text}
        if self.scoped_per_event:
            columns.update(NOTHING_LISTED_COLUMN)
        hints = {"name": self.name, "primary_key": self.primary_key, "write_disposition": disposition,
                 "columns": columns}
        if self.max_table_nesting is not None:
            hints["max_table_nesting"] = self.max_table_nesting
        return hints

"""How a vendor's lists land: per-event lists read several in flight, their write
dispositions (kept as listed, versioned, or merged by key), and tables that exist with
their declared columns even when a list is empty."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import dlt
from dlt.extract.hints import make_nested_hints

if TYPE_CHECKING:
    from dlt.sources import DltResource

    from pipelines.http import VendorClient

T = TypeVar("T")

# Events reach the per-event lists in batches of at least this many. A daily run keeps
# only the few changed or active events of each page it lists, and every batch costs each
# list at least one round trip: page by page, EventBookings' daily read at scale large
# fed each list 26 batches of a few events each (about 200 events kept in 2,500).
EVENT_BATCH = 100


def per_event_transformer(
    client: VendorClient,
    read_event: Callable[[dict[str, Any]], list[dict[str, Any]]],
    description: str,
    **hints: Any,
) -> DltResource:
    """A transformer that reads one list per event of each page of events, several in flight."""

    def per_event(event_page: list[dict[str, Any]]) -> Iterator[Any]:
        yield from or_empty_table(rows for rows in client.map_in_flight(read_event, event_page) if rows)

    per_event.__doc__ = description
    return dlt.transformer(per_event, **hints)


def nullable(data_type: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Declared columns of one dlt type: a raw table has them from its first load, sent or not."""
    return {name: {"data_type": data_type, "nullable": True} for name in names}


def or_empty_table(pages: Iterable[T]) -> Iterator[Any]:
    """`pages`, or, when there are none, dlt's marker that creates the table all the same with
    its declared columns (dlt makes no table for a resource that yields nothing, and staging
    would then fail). Transformers fed by the resource get the marker as an empty page, so
    their tables are created too."""
    empty = True
    for page in pages:
        empty = False
        yield page
    if empty:
        yield dlt.mark.materialize_table_schema()


def rows_or_empty_table(rows: list[T]) -> Any:
    """`rows`, or when there are none the marker that creates the table all the same (see
    or_empty_table)."""
    return rows if rows else dlt.mark.materialize_table_schema()


def in_batches(pages: Iterable[list[T]], size: int = EVENT_BATCH) -> Iterator[list[T]]:
    """The items of `pages` regrouped into lists of at least `size`; the last may be shorter."""
    batch: list[T] = []
    for page in pages:
        batch.extend(page)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
# A row's place (0, 1, ...) in its event's list, where rows are told apart by it.
LIST_POSITION = "list_position"


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
    # The raw table's declared shape (the vendor's module `shape`): its columns exist from
    # the first load, whether or not a field is ever sent.
    columns: dict[str, Any] | None = None
    # The same for the tables dlt makes of nested lists (orders -> orders__line_items).
    nested_columns: dict[str, dict[str, Any]] | None = None
    page_size: int | None = None  # None: the vendor's default
    # Rows told apart by their place in the event's list, not by the vendor's own id (then
    # kept as sent, blank or not): for lists replaced per event on every read, whose ids
    # a vendor may leave blank (EventBookings' own samples do).
    positional: bool = False

    def __post_init__(self) -> None:
        if self.positional and self.kept != REPLACED:
            raise ValueError(f"{self.name}: only a list replaced per event can be told apart by position")

    @property
    def scoped_per_event(self) -> bool:
        return self.kept in (REPLACED, VERSIONED)

    def stored_key(self, event_key: str) -> tuple[str, ...]:
        """The raw table's primary key."""
        return (event_key, LIST_POSITION) if self.positional else self.primary_key

    def record_key(self, event_key: str) -> tuple[str, ...]:
        """The fields every record the vendor sends must carry (the event's key is added here)."""
        return () if self.positional else tuple(field for field in self.primary_key if field != event_key)

    def with_positions(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.positional:
            return rows
        return [{**row, LIST_POSITION: str(position)} for position, row in enumerate(rows)]

    def rows_of_event(self, listed: list[dict[str, Any]], event_key: str, event_id: str) -> list[dict[str, Any]]:
        """What one event's list writes: its rows, or the marker when a scoped list is empty."""
        if not listed and self.scoped_per_event:
            return [nothing_listed(event_key, event_id, self.stored_key(event_key))]
        return self.with_positions(listed)

    def hints(self, run_date: dt.date, event_key: str) -> dict[str, Any]:
        """dlt resource hints: key, write disposition (scoped per event where kept so) and columns."""
        if self.kept == REPLACED:
            disposition: Any = replaced_per_event(event_key)
        elif self.kept == VERSIONED:
            disposition = scd2_by_event(run_date, event_key)
        else:
            disposition = "merge"
        columns: dict[str, Any] = dict(self.columns or {})
        if self.scoped_per_event:
            columns.update(NOTHING_LISTED_COLUMN)
        if self.positional:
            columns[LIST_POSITION] = {"data_type": "text", "nullable": False}
        hints = {"name": self.name, "primary_key": self.stored_key(event_key), "write_disposition": disposition,
                 "columns": columns}
        if self.nested_columns:
            hints["nested_hints"] = {
                nested: make_nested_hints(columns=[{"name": name, **column} for name, column in declared.items()])
                for nested, declared in self.nested_columns.items()
            }
        if self.max_table_nesting is not None:
            hints["max_table_nesting"] = self.max_table_nesting
        return hints

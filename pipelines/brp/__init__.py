"""BRP: events with their participants, from the XML events API.

The API has no paging and no update filter, only date filters, so events are
read by date windows and each answer is parsed as it streams in. The first
run backfills from `start_date`; later runs re-read the active window: every
event that has not ended or ended at most `window_days_after_end` days ago.

An event is written when it is new or changed (its `lastupdate` at or after
the newest one seen before, minus a lookback) and whenever it is active:
booking has opened and it is in the window, since bookings move
`filledslots` without moving `lastupdate`. The participants of every active
event are versioned per event, so a booking the vendor stops listing is
kept, retired on the day it was first seen gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from pipelines.brp import helpers
from pipelines.brp.helpers import EventRead
from pipelines.cursor import ChangeCursor
from pipelines.http import DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_BACKOFF, VendorClient, retry_policy
from pipelines.http import request_timeout as http_timeout
from pipelines.lists import NOTHING_LISTED_COLUMN, nothing_listed, rows_or_empty_table, scd2_by_event
from pipelines.vendor import DEFAULT_LOOKBACK_DAYS, DEFAULT_WINDOW_DAYS_AFTER_END, Vendor, resolve_as_of

NAME = "brp"
TITLE = "BRP"
CURSOR_STATE_KEY = "lastupdate_cursor"
BACKFILLED_FROM_STATE_KEY = "backfilled_from"
# Without a configured start date, the first run reads this many days back.
DEFAULT_BACKFILL_DAYS = 365
# Days of events asked for per request (a quarter): the first run of a long history needs
# few requests.
DEFAULT_WINDOW_DAYS = 92
# Windows read at once. Each answer streams through the XML parser; a window's events are
# held from its answer until its turn, so memory grows with this, not with the history.
# One at a time, a first run waited out the latency of every window in turn.
DEFAULT_MAX_IN_FLIGHT = 4
EVENTS_PER_PAGE = 500

EVENT_KEY = "event_id"
PARTICIPANT_KEY = (EVENT_KEY, "eventbookingid")


@dlt.source(name=NAME)
def brp_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    start_date: str | None = None,
    as_of: str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    window_days_after_end: int = DEFAULT_WINDOW_DAYS_AFTER_END,
    window_days: int = DEFAULT_WINDOW_DAYS,
    business_unit_ids: str | Sequence[int] | None = None,
    bookable_from_internet_only: bool = False,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Iterable[DltResource]:
    """BRP events and participants: backfilled from `start_date`, then the active window each run."""
    run_date = resolve_as_of(as_of)
    # Raw tables keep the vendor's strings; the UTC columns are the source's own.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    first_day = resolve_as_of(start_date) if start_date else run_date - dt.timedelta(days=DEFAULT_BACKFILL_DAYS)
    client = VendorClient(NAME, TITLE, base_url, params={"apikey": api_key},
                          describe_error=helpers.describe_error_document, max_in_flight=max(1, int(max_in_flight)),
                          timeout=http_timeout(request_timeout), retry=retry_policy(retry_backoff))
    plan = ReadPlan(run_date, first_day, lookback_days, window_days_after_end, max(1, int(window_days)),
                    _filters(business_unit_ids, bookable_from_internet_only))
    feed = event_feed(client, plan)
    return feed, feed | events(), feed | participants(run_date)


def _filters(business_unit_ids: str | Sequence[int] | None, bookable_from_internet_only: bool) -> dict[str, str]:
    # The API's default keeps only events bookable from the internet; reporting wants them all.
    filters = {"includeparticipants": "true",
               "bookablefrominternet": "true" if bookable_from_internet_only else "false"}
    if business_unit_ids:
        ids = business_unit_ids.split(",") if isinstance(business_unit_ids, str) else business_unit_ids
        filters["businessunitids"] = ",".join(str(int(str(unit).strip())) for unit in ids)
    return filters


class ReadPlan:
    """Which dates a run reads, and which of the events read it writes."""

    def __init__(self, run_date: dt.date, first_day: dt.date, lookback_days: int, window_days_after_end: int,
                 window_days: int, filters: dict[str, str]) -> None:
        self.run_date, self.first_day, self.filters = run_date, first_day, filters
        self.lookback = dt.timedelta(days=lookback_days)
        self.window_days = window_days
        self.window_start = dt.datetime.combine(
            run_date - dt.timedelta(days=window_days_after_end), dt.time(), tzinfo=dt.UTC)
        # Booking that opens at any time on the run date counts as opened.
        self.opened_by = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def requests(self, backfill: bool) -> Iterator[dict[str, str]]:
        first = self.first_day if backfill else max(self.first_day, self.window_start.date())
        for window in helpers.date_windows(first, self.run_date, self.window_days):
            yield {**self.filters, **window}

    def is_active(self, event: dict[str, Any]) -> bool:
        ends, opened = event.get("ends_at_utc"), event.get("bookableearliest_utc")
        # Without a readable end or opening the event is kept: re-reading it is harmless.
        return (ends is None or ends >= self.window_start) and (opened is None or opened < self.opened_by)


def event_feed(client: VendorClient, plan: ReadPlan) -> DltResource:
    @dlt.resource(name="event_feed", selected=False)
    def feed() -> Iterator[list[EventRead]]:
        """Every event read with its participants, each marked with what to write; feeds the tables."""
        state = dlt.current.resource_state()
        backfilled_from = state.get(BACKFILLED_FROM_STATE_KEY)
        backfill = backfilled_from is None or plan.first_day < dt.date.fromisoformat(backfilled_from)
        cursor = ChangeCursor.of_resource(CURSOR_STATE_KEY, dt.datetime.fromisoformat, dt.datetime.isoformat)
        changed_since = cursor.changed_since(plan.lookback)
        zone = helpers.stockholm()
        seen: set[str] = set()
        page: list[EventRead] = []
        fed = False
        windows = client.map_in_flight(lambda params: list(helpers.read_events(client, params, zone)),
                                       plan.requests(backfill))
        # In date order, as requested, so an event spanning two windows is taken from the first.
        for reads in windows:
            for read in reads:
                if read.event_id in seen:  # windows overlap where events span them
                    continue
                seen.add(read.event_id)
                updated = read.event.get("lastupdate_utc")
                cursor.saw(updated)
                _mark(read, plan, backfill, changed_since, updated)
                if read.write_event or read.write_participants:
                    page.append(read)
                if len(page) >= EVENTS_PER_PAGE:
                    fed = True
                    yield page
                    page = []
        if page or not fed:
            # An empty page still reaches the tables, so they exist with their declared columns.
            yield page
        cursor.save()
        if backfill:
            state[BACKFILLED_FROM_STATE_KEY] = plan.first_day.isoformat()

    return feed


def _mark(read: EventRead, plan: ReadPlan, backfill: bool, changed_since: dt.datetime | None,
          updated: dt.datetime | None) -> None:
    active = backfill or plan.is_active(read.event)
    changed = changed_since is None or updated is None or updated >= changed_since
    read.write_event = active or changed
    read.write_participants = active


def _text() -> dict[str, Any]:
    return {"data_type": "text", "nullable": True}


def _utc_time() -> dict[str, Any]:
    return {"data_type": "timestamp", "timezone": True, "nullable": True}


# Declared so that a field no event carries yet (an `orderid`, a `time`) still has its column.
EVENT_TEXT = (
    "name", "code", "productid", "description", "lastupdate", "productdescription", "numberofoccasions",
    "time", "startdate", "enddate", "publishstart", "publishend", "bookableslots", "filledslots",
    "registered", "businessunit__id", "businessunit__name", "orderid",
    *(f"{point}__timepoint__{part}" for point in helpers.TIMEPOINTS
      for part in ("timestamp", "datetime", "date", "time")),
)
EVENT_UTC_TIMES = ("starts_at_utc", "ends_at_utc", *helpers.LOCAL_TIMES.values(), *helpers.TIMEPOINTS.values())
PARTICIPANT_TEXT = ("personid", "firstname", "lastname")


def _event_columns() -> dict[str, Any]:
    return {**{name: _text() for name in EVENT_TEXT}, **{name: _utc_time() for name in EVENT_UTC_TIMES}}


def _participant_columns() -> dict[str, Any]:
    return {**{name: _text() for name in PARTICIPANT_TEXT}, **NOTHING_LISTED_COLUMN}


def events() -> DltResource:
    @dlt.transformer(name="events", primary_key="id", write_disposition="merge", columns=_event_columns())
    def event_list(page: list[EventRead]) -> Iterator[list[dict[str, Any]]]:
        """Events with every field as the vendor sends it (nested ones flattened with `__`) and
        UTC times beside the local ones (`starts_at_utc`, `ends_at_utc`, `lastupdate_utc`, ...); key `id`."""
        yield rows_or_empty_table([read.event for read in page if read.write_event])

    return event_list


def participants(run_date: dt.date) -> DltResource:
    @dlt.transformer(name="participants", primary_key=PARTICIPANT_KEY,
                     write_disposition=scd2_by_event(run_date, EVENT_KEY), columns=_participant_columns())
    def participant_list(page: list[EventRead]) -> Iterator[list[dict[str, Any]]]:
        """Bookings of each active event; key (`event_id`, `eventbookingid`). One the vendor stopped
        listing keeps its last version, `_dlt_valid_to` set to when it was first seen gone."""
        rows: list[dict[str, Any]] = []
        for read in page:
            if read.write_participants:
                listed = [{**participant, EVENT_KEY: read.event_id} for participant in read.participants or ()]
                rows.extend(listed or [nothing_listed(EVENT_KEY, read.event_id, PARTICIPANT_KEY)])
        yield rows_or_empty_table(rows)

    return participant_list


VENDOR = Vendor(
    name=NAME,
    title=TITLE,
    source=brp_source,
    required_settings=("base_url", "api_key"),
    secret_settings=("api_key",),
)

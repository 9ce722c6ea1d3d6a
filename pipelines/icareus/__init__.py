"""Icareus Suite: events and their rooms, from the Event Management API.

The API has no call that lists events: each run reads the configured
`event_ids`, one request per event, with its rooms inside. Every request
carries a token the client signs itself (the organization id, the time, the
organization's secret and the caller's public IP address); Icareus answers
some failures with HTTP 200 and `"status": "error"`, which fail the run like
any other error. Nothing marks an event as changed, so each run reads every
configured event in the active window, as for the other vendors: an event that
ended more than `window_days_after_end` days before the run date (default 30)
is read until one run has seen it ended, and left as loaded after. None reads
every configured event on every run. The participant API is marked
unsupported by the vendor, so Icareus events have no registrations or
attendance.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import dlt
from dlt.sources import DltResource

from pipelines.http import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_BACKOFF,
    VendorClient,
    VendorError,
    retry_policy,
)
from pipelines.http import request_timeout as http_timeout
from pipelines.icareus import helpers, shape
from pipelines.icareus.helpers import Row, SignedToken
from pipelines.lists import NOTHING_LISTED, NOTHING_LISTED_COLUMN, replaced_per_event
from pipelines.vendor import DEFAULT_MAX_IN_FLIGHT, DEFAULT_WINDOW_DAYS_AFTER_END, Vendor, resolve_as_of

NAME = "icareus"
TITLE = "Icareus Suite"
# Event id -> end (ms) of the events a run has read, so that long-ended ones are not read again.
ENDS_STATE_KEY = "event_ends_ms"
EVENTS_PER_PAGE = 200
# dlt turns the vendor's camelCase into snake_case; the per-event scope is SQL on the stored name.
EVENT_KEY, STORED_EVENT_KEY = "eventId", "event_id"


@dlt.source(name=NAME, max_table_nesting=0)
def icareus_source(
    base_url: str = dlt.config.value,
    organization_id: str = dlt.config.value,
    secret: str = dlt.secrets.value,
    client_ip: str = dlt.config.value,
    event_ids: str = dlt.config.value,
    as_of: str | None = None,
    window_days_after_end: int | None = DEFAULT_WINDOW_DAYS_AFTER_END,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> Iterable[DltResource]:
    """The configured Icareus events with their rooms, but not those long over (see the module)."""
    settings = Settings(organization_id, secret, client_ip, event_ids, base_url, max(1, int(max_in_flight)),
                        float(request_timeout), float(retry_backoff))
    window_start = (None if window_days_after_end is None
                    else resolve_as_of(as_of) - dt.timedelta(days=int(window_days_after_end)))
    feed = event_feed(settings, window_start)
    return feed, feed | events(), feed | rooms()


@dataclass(frozen=True)
class Settings:
    """What the source was configured with, checked when a run starts (not when assets are defined)."""

    organization_id: str
    secret: str = field(repr=False)
    client_ip: str
    event_ids: str
    base_url: str
    max_in_flight: int
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    retry_backoff: float = DEFAULT_RETRY_BACKOFF

    def client(self) -> tuple[VendorClient, int, list[int]]:
        """The API client, the organization id and the event ids to read."""
        try:
            organization = helpers.parse_organization_id(self.organization_id, _env("organization_id"))
            client_ip = helpers.parse_client_ip(self.client_ip, _env("client_ip"))
            event_ids = helpers.parse_event_ids(self.event_ids, _env("event_ids"))
        except ValueError as problem:
            raise VendorError(TITLE, "settings", str(problem)) from None
        auth = SignedToken(organization, self.secret, client_ip)
        client = VendorClient(NAME, TITLE, self.base_url, secrets=[self.secret], auth=auth,
                              describe_error=helpers.describe_error, max_in_flight=self.max_in_flight,
                              timeout=http_timeout(self.request_timeout), retry=retry_policy(self.retry_backoff))
        auth.redactors.append(client.redactor)
        return client, organization, event_ids


def _env(setting: str) -> str:
    return f"SOURCES__{NAME.upper()}__{setting.upper()}"


def event_feed(settings: Settings, window_start: dt.date | None) -> DltResource:
    @dlt.resource(name="event_feed", selected=False)
    def feed() -> Iterator[list[Row]]:
        """Every configured event to read this run, as the vendor sends it; feeds the tables."""
        client, organization, event_ids = settings.client()
        ends = dlt.current.resource_state().setdefault(ENDS_STATE_KEY, {})
        wanted = event_ids
        if window_start is not None:
            long_over = _ms(window_start)
            wanted = [event_id for event_id in event_ids if ends.get(str(event_id), long_over) >= long_over]

        def read(event_id: int) -> Row:
            return helpers.read_event(client, organization, event_id)

        with client:
            # The first alone: a rejected credential fails after one request, not one per worker.
            first, rest = wanted[:1], wanted[1:]
            read_all = itertools.chain(map(read, first), client.map_in_flight(read, rest))
            while page := list(itertools.islice(read_all, EVENTS_PER_PAGE)):
                for event in page:
                    end = helpers.end_ms(event)
                    if end is not None:
                        ends[str(event[EVENT_KEY])] = end
                yield page

    return feed


def _ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


def _default_language(event: Row) -> str:
    return str(event.get("defaultLanguage") or helpers.DEFAULT_LANGUAGE)


def events() -> DltResource:
    @dlt.transformer(name="events", primary_key=EVENT_KEY, write_disposition="merge",
                     columns=shape.EVENTS)
    def event_list(page: list[Row]) -> Iterator[list[Row]]:
        """Events as the vendor sends them without their rooms; `name`, `description` and
        `publicName` keep every translation as {language: text}; key `eventId`."""
        yield [helpers.clean({k: v for k, v in event.items() if k != "rooms"}, _default_language(event))
               for event in page]

    return event_list


def rooms() -> DltResource:
    @dlt.transformer(name="rooms", primary_key="roomId", write_disposition=replaced_per_event(STORED_EVENT_KEY),
                     columns={**shape.ROOMS, **NOTHING_LISTED_COLUMN})
    def room_list(page: list[Row]) -> Iterator[list[Row]]:
        """Rooms of each event read (Icareus's sessions), translations kept; key `roomId`.
        Replaced per event on every read, so a deleted room goes."""
        rows: list[Row] = []
        for event in page:
            language, event_id = _default_language(event), event[EVENT_KEY]
            listed = [{**helpers.clean(room, language), EVENT_KEY: event_id} for room in event.get("rooms") or ()]
            # An event without rooms still has its old ones removed; the marker never lands.
            rows.extend(listed or [{"roomId": 0, EVENT_KEY: event_id, NOTHING_LISTED: True}])
        yield rows

    return room_list


VENDOR = Vendor(
    name=NAME,
    title=TITLE,
    source=icareus_source,
    required_settings=("base_url", "organization_id", "secret", "client_ip", "event_ids"),
    secret_settings=("secret",),
)

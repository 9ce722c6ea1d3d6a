"""What every vendor provides, and the settings they share."""

from __future__ import annotations

import datetime as dt
import inspect
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import SplitResult, urlsplit

import dlt
from dlt.extract.hints import make_nested_hints

if TYPE_CHECKING:
    from dlt.extract.source import DltSource
    from dlt.sources import DltResource

    from pipelines.http import VendorClient

T = TypeVar("T")

# Child lists are re-read for events that end no more than this many days ago.
DEFAULT_WINDOW_DAYS_AFTER_END = 30
# Re-read what changed since the last run minus this many days, so late or
# same-day changes are not lost; re-read rows are absorbed by the merge.
DEFAULT_LOOKBACK_DAYS = 1
# Events reach the per-event lists in batches of at least this many. A daily run keeps
# only the few changed or active events of each page it lists, and every batch costs each
# list at least one round trip: page by page, EventBookings' daily read at scale large
# fed each list 26 batches of a few events each (about 200 events kept in 2,500).
EVENT_BATCH = 100
# Requests in flight per vendor. Reads are bound by the vendor's latency, not by the CPU:
# at 50 ms a request, OPUS's medium extraction took 11.3 s with 16 and 18.8 s with 8.
DEFAULT_MAX_IN_FLIGHT = 16

# Settings that hold a URL: the source's parameters named so. Only these are ever echoed.
URL_SETTING_SUFFIX = "_url"
URL_SCHEMES = ("http", "https")
EXPECTED_URL = "expected an absolute http(s) URL such as https://host/path"
SHOWN_URL_CHARS = 100
DEFAULT_PORTS = {"http": 80, "https": 443}
# Before a run sends a request, each vendor host gets one TCP connect: a typo or a
# dead host then fails in seconds, not after the HTTP layer's retries and backoff.
# A few tries, so a blip at the moment of the probe does not fail the vendor's day.
PROBE_ATTEMPTS = 3
PROBE_PAUSE_SECONDS = 1.0
PROBE_CONNECT_SECONDS = 3.0
# getaddrinfo has no timeout of its own; a resolver that hangs counts as unreachable.
PROBE_RESOLVE_SECONDS = 4.0


@dataclass(frozen=True)
class Vendor:
    """One event platform: its dlt source and the settings it needs."""

    name: str
    title: str
    source: Callable[..., DltSource]
    required_settings: tuple[str, ...]
    # The settings that are credentials. A vendor's sandbox takes each as a keyword argument
    # of the same name, so `turnout demo` can serve it with configured values.
    secret_settings: tuple[str, ...] = ()

    @property
    def dataset(self) -> str:
        return f"raw_{self.name}"

    def env_name(self, setting: str) -> str:
        return f"SOURCES__{self.name.upper()}__{setting.upper()}"

    def setting_value(self, setting: str) -> Any:
        """A setting from dlt secrets, config or the environment; None when not set."""
        key = f"sources.{self.name}.{setting}"
        # Secrets first: dlt's run trace records values looked up as plain config.
        value = dlt.secrets.get(key)
        return value if value is not None else dlt.config.get(key)

    def missing_settings(self) -> list[str]:
        """Settings not found in dlt config, secrets or the environment."""
        return [self.env_name(setting) for setting in self.required_settings
                if self.setting_value(setting) is None]

    def unconfigured(self) -> bool:
        """No required setting is set: the vendor is not in use, and a run skips it."""
        return len(self.missing_settings()) == len(self.required_settings)

    def url_settings(self) -> dict[str, str]:
        """Each URL setting the source takes, with the value a run would use (set or default)."""
        urls = {}
        for name, parameter in inspect.signature(self.source).parameters.items():
            if not name.endswith(URL_SETTING_SUFFIX):
                continue
            value = self.setting_value(name)
            if value is None and isinstance(parameter.default, str):
                value = parameter.default
            if value is not None:
                urls[name] = str(value)
        return urls

    def setting_problems(self) -> list[str]:
        """What keeps a run from using this vendor, each naming the setting to fix: a settings file
        that does not parse, values dlt could not use (pipelines.settings), required settings not
        set, and URL settings that are not absolute http(s) URLs."""
        # Imported here: pipelines.settings reads vendors, so it imports this module.
        from pipelines import settings

        broken = settings.file_problems()
        if broken:
            return broken  # no setting can be read
        wrong = settings.value_problems(self)
        problems = [f"{self.title}: {self.env_name(setting)} is not set" for setting in self.required_settings
                    if setting not in wrong and self.setting_value(setting) is None]
        for setting, value in self.url_settings().items():
            if setting not in wrong and not _is_http_url(value):
                problems.append(f"{self.title}: {self.env_name(setting)} is not a valid URL "
                                f"({shown_url(value)!r}): {EXPECTED_URL}")
        return [*problems, *wrong.values()]

    def endpoints(self) -> list[Endpoint]:
        """The host and port behind each well-formed URL setting, to probe before a run."""
        endpoints = []
        for setting, value in self.url_settings().items():
            if not _is_http_url(value):
                continue  # setting_problems names it
            parts = urlsplit(value)
            if _behind_proxy(parts):
                continue  # the HTTP client goes through the proxy, so a direct connect proves nothing
            host, port = parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme]
            endpoints.append(Endpoint(self.name, self.title, self.env_name(setting), host, port))
        return endpoints

    def source_for_specs(self) -> DltSource:
        """A source with placeholder settings: enough to describe its tables, never run.

        Every argument is given, so none is read from the settings: a bad one fails the vendor's
        load step (setting_problems), not the definitions of every vendor.
        """
        from pipelines import settings

        return self.source(**settings.describing_arguments(self))


@dataclass(frozen=True)
class Endpoint:
    """Where one URL setting of a vendor points."""

    vendor: str
    title: str
    setting: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def problem(self) -> str | None:
        """Why a run could not reach it, naming the setting to fix; None when it takes a connection."""
        reason = probe(self.host, self.port)
        return None if reason is None else f"{self.title}: cannot reach {self.address} from {self.setting} ({reason})"


def unreachable_settings(vendors: Iterable[Vendor]) -> dict[str, list[str]]:
    """Per vendor name, its URL settings whose host does not resolve or take a TCP connection.

    Settings are read here, in the caller's thread; only the probes run in parallel,
    so the whole check takes as long as the slowest host.
    """
    endpoints = [endpoint for vendor in vendors for endpoint in vendor.endpoints()]
    problems: dict[str, list[str]] = {vendor.name: [] for vendor in vendors}
    if not endpoints:
        return problems
    with ThreadPoolExecutor(len(endpoints), thread_name_prefix="turnout-probe") as pool:
        for endpoint, problem in zip(endpoints, pool.map(Endpoint.problem, endpoints), strict=True):
            if problem:
                problems[endpoint.vendor].append(problem)
    return problems


def _is_http_url(value: str) -> bool:
    if not value or any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in URL_SCHEMES and bool(parts.hostname)


def shown_url(value: str) -> str:
    """A URL setting as it may be echoed: no query or fragment, no user or password, bounded."""
    kept = value.split("?", 1)[0].split("#", 1)[0]
    scheme, separator, rest = kept.partition("://")
    if separator:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rpartition("@")[2]
        kept = f"{scheme}://{authority}{slash}{path}"
    return kept if len(kept) <= SHOWN_URL_CHARS else kept[:SHOWN_URL_CHARS] + "…"


def _behind_proxy(parts: SplitResult) -> bool:
    proxies = urllib.request.getproxies()
    proxied = parts.scheme in proxies or "all" in proxies
    return proxied and not urllib.request.proxy_bypass(parts.hostname or "")


def probe(host: str, port: int) -> str | None:
    """Why host:port cannot be reached (after a few tries), or None when it takes a connection."""
    reason = None
    for attempt in range(PROBE_ATTEMPTS):
        if attempt:
            time.sleep(PROBE_PAUSE_SECONDS)
        reason = _probe_once(host, port)
        if reason is None:
            return None
    return reason


def _probe_once(host: str, port: int) -> str | None:
    try:
        addresses = _resolve(host, port)
    except OSError as exc:
        return f"does not resolve: {exc.strerror or exc}" if isinstance(exc, socket.gaierror) else str(exc)
    reason = "no address"
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as sock:
            sock.settimeout(PROBE_CONNECT_SECONDS)
            try:
                sock.connect(address)
                return None
            except ConnectionRefusedError:
                reason = "connection refused"
            except TimeoutError:
                reason = f"no answer within {PROBE_CONNECT_SECONDS:.0f} s"
            except OSError as exc:
                reason = exc.strerror or str(exc)
    return reason


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo, bounded in time: it runs in a daemon thread a hung resolver cannot hold up."""
    answer: list[Any] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=lookup, name=f"turnout-resolve-{host}", daemon=True)
    worker.start()
    worker.join(PROBE_RESOLVE_SECONDS)
    if not answer:
        raise OSError(f"name lookup took longer than {PROBE_RESOLVE_SECONDS:.0f} s")
    if isinstance(answer[0], OSError):
        raise answer[0]
    return answer[0]


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

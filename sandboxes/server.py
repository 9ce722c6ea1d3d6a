"""Vendor sandboxes: real HTTP servers on loopback that speak a vendor's protocol.

A sandbox is made of two parts:

* a :class:`SandboxApp` subclass per vendor, which owns deterministic synthetic
  data, a simulated clock and the vendor's request handling, and
* :class:`SandboxServer`, which serves any app over HTTP/1.1 on 127.0.0.1 and
  adds two control routes outside the vendor's API::

      POST /_sandbox/advance?days=N   move the simulated clock forward
      GET  /_sandbox/clock            report the simulated clock
      POST /_sandbox/faults?rate=R&kinds=K&seed=S&slow_seconds=T
                                      switch fault injection (sandboxes.faults);
                                      rate=0 or an empty kinds= switches it off
      GET  /_sandbox/faults           the fault plan, requests seen and faults injected

The module also holds :class:`PersonPool`, the synthetic people every vendor
sandbox draws from, so that the same seed yields the same people (and the
same e-mail addresses) across vendors, and :class:`SandboxProfile`, how much
of each record a sandbox sends: ``full`` (every documented field, the
default) or ``sparse`` (only what the vendor's doc requires; each vendor
sandbox declares that per list it serves, as :class:`RecordShape`).
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import hashlib
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson

if TYPE_CHECKING:
    from sandboxes.faults import FaultInjector, FaultPlan, FaultTarget

CONTROL_PREFIX = "/_sandbox/"
DEFAULT_HOST = "127.0.0.1"
# Hour of the start date at which the simulated clock starts: late enough that
# "today" already has some activity, early enough to leave the day ahead.
CLOCK_START_HOUR = 6
REQUEST_QUEUE_SIZE = 128
# Idle keep-alive connections are dropped after this many seconds so that
# abandoned clients do not pin handler threads forever.
IDLE_CONNECTION_TIMEOUT = 120.0
POLL_INTERVAL = 0.05
# SO_LINGER on with a zero timeout: close() then sends a reset instead of a FIN.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)

JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"

_F = TypeVar("_F", bound=Callable[..., Any])

# The address of the connection whose request this thread is answering.
_serving = threading.local()


def request_peer() -> str | None:
    """The caller's IP address while a sandbox answers its request (None outside a request).

    Vendors that sign the caller's address into a token check it against this.
    """
    return getattr(_serving, "peer", None)


class SandboxResponse:
    """One HTTP response produced by a sandbox app.

    ``body`` is bytes (sent as is), text, any JSON-able value, or a stream: an
    iterator (or another iterable that is neither a string, bytes, list, tuple
    nor mapping) of ``bytes`` chunks. A ``str`` body is sent as text unless
    the content type is JSON, in which case it is a JSON string value (some
    vendors answer a bare JSON string). The body is encoded only when the
    server writes it, outside the app's lock.

    A stream is sent with ``Transfer-Encoding: chunked`` as the chunks come,
    so it is never held whole in memory; its chunks are produced outside the
    app's lock, so a generator that reads app state takes ``app.lock`` itself.
    If the stream raises part way, the server closes the connection without
    the final chunk, and the client sees a truncated body.

    ``reset_midway`` (set by fault injection) sends the status line, the
    headers and about half the body, then resets the connection.
    """

    __slots__ = ("status", "body", "content_type", "headers", "reset_midway")

    def __init__(
        self,
        status: int,
        body: bytes | str | Any = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type or (
            TEXT_CONTENT_TYPE if isinstance(body, (bytes, str)) or _is_stream(body) else JSON_CONTENT_TYPE
        )
        self.headers = dict(headers or {})
        self.reset_midway = False

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> SandboxResponse:
        return cls(status, obj, JSON_CONTENT_TYPE, headers)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = TEXT_CONTENT_TYPE) -> SandboxResponse:
        return cls(status, text, content_type)

    @classmethod
    def xml(cls, text: str | bytes, status: int = 200) -> SandboxResponse:
        return cls(status, text, XML_CONTENT_TYPE)

    @classmethod
    def xml_stream(cls, chunks: Iterable[bytes], status: int = 200) -> SandboxResponse:
        """An XML body sent chunk by chunk as ``chunks`` yields it."""
        return cls(status, iter(chunks), XML_CONTENT_TYPE)

    @classmethod
    def error(cls, status: int, message: str, **extra: Any) -> SandboxResponse:
        return cls.json({"error": message, **extra}, status=status)

    @property
    def is_json(self) -> bool:
        return self.content_type.split(";")[0].strip() == JSON_CONTENT_TYPE

    @property
    def is_stream(self) -> bool:
        """Whether the body is a stream of chunks (sent chunked)."""
        return _is_stream(self.body)

    def encoded(self) -> bytes:
        """The whole body as bytes; a stream is read to its end (and so used up)."""
        body = self.body
        if isinstance(body, bytes):
            return body
        if _is_stream(body):
            return b"".join(body)
        if isinstance(body, str) and not self.is_json:
            return body.encode("utf-8")
        return encode_json(body)

    def __repr__(self) -> str:
        return f"SandboxResponse(status={self.status}, content_type={self.content_type!r})"


def _is_stream(body: Any) -> bool:
    if isinstance(body, Iterator):
        return True
    return isinstance(body, Iterable) and not isinstance(body, (bytes, bytearray, str, list, tuple, Mapping))


def encode_json(body: Any) -> bytes:
    """Compact JSON, as a vendor sends it. orjson, because a sandbox that spends the
    simulated latency again on encoding measures itself, not the client."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a type orjson does not know (Decimal, a set): the standard encoder's verdict
        return json.dumps(body, separators=(",", ":")).encode("utf-8")


def synchronized(method: _F) -> _F:
    """Run an app method under the app's lock (apps are served by many threads)."""

    @functools.wraps(method)
    def wrapper(self: SandboxApp, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Profiles: how much of each record a sandbox sends
# --------------------------------------------------------------------------

FULL, SPARSE = "full", "sparse"
PROFILES = (FULL, SPARSE)
PROFILE_ENV = "TURNOUT_SANDBOX_PROFILE"
# Sparse: about one event in this many answers every child list empty.
BARE_EVENT_EVERY = 4
# What the sparse profile does with one optional field, drawn evenly.
KEEP, DROP, BLANK = "keep", "drop", "blank"
_FATES = (KEEP, DROP, BLANK)
_ABSENT = object()


def profile_from_env(env: Mapping[str, str]) -> str:
    """The profile TURNOUT_SANDBOX_PROFILE names; ``full`` when unset or empty."""
    value = (env.get(PROFILE_ENV) or "").strip()
    if not value:
        return FULL
    if value.lower() not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {', '.join(PROFILES)}, got {value!r}")
    return value.lower()


@dataclass(frozen=True, eq=False)
class RecordShape:
    """What one kind of record must carry in the sparse profile, and what it may lose.

    ``required`` fields (the ``key`` fields always among them) are sent as
    they are. Every other field is optional: about a third are left out, a
    third sent blank ("" for a string, an empty list or object; a blank
    number, boolean or null is left out instead) and the rest kept.
    ``never`` fields are optional fields never sent with a value (left out or
    blank), ``omitted`` ones are never sent at all (a reference to records
    the profile does not serve). The fields of one ``together`` group come
    or go as one (a value and the one the doc requires with it). ``nested``
    thins the records of a list or object field with their own shape; such a
    field that is not required may still be left out or blanked whole. The
    draws depend on the seed, ``kind`` and the record's ``key`` values only,
    so a record loses the same fields in every answer and on every day.
    """

    kind: str
    key: tuple[str, ...]
    required: Collection[str] = ()
    never: Collection[str] = ()
    omitted: Collection[str] = ()
    together: tuple[Collection[str], ...] = ()
    nested: Mapping[str, RecordShape] = field(default_factory=dict)
    _drawn_as: Mapping[str, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", frozenset(self.required) | frozenset(self.key))
        object.__setattr__(self, "never", frozenset(self.never))
        object.__setattr__(self, "omitted", frozenset(self.omitted))
        # Each field of a group is drawn under the group's first name.
        object.__setattr__(self, "_drawn_as", {name: min(group) for group in self.together for name in group})

    def drawn_as(self, name: str) -> str:
        """The name under which this field's fate is drawn."""
        return self._drawn_as.get(name, name)


class SandboxProfile:
    """A sandbox's profile: ``full`` sends every documented field, ``sparse`` only the required ones.

    Sparse also makes about one event in ``BARE_EVENT_EVERY`` answer every
    child list empty (``bare``). Each draw is a hash of the vendor, the seed
    and what is drawn for, never a shared random stream, so answers do not
    depend on the order of requests, and advancing the clock changes a
    record's fields only where its data changes.
    """

    def __init__(self, name: str = FULL, *, seed: int = 1, vendor: str = "") -> None:
        if name not in PROFILES:
            raise ValueError(f"unknown sandbox profile {name!r}; expected one of {', '.join(PROFILES)}")
        self.name = name
        self.sparse = name == SPARSE
        self._salt = f"{vendor}:{seed}"

    def __repr__(self) -> str:
        return f"SandboxProfile({self.name!r})"

    def bare(self, event_key: object) -> bool:
        """Whether this event answers its child lists empty (never in the full profile)."""
        return self.sparse and self._draw("bare", event_key) % BARE_EVENT_EVERY == 0

    def field_fate(self, shape: RecordShape, identity: tuple[Any, ...], name: str) -> str:
        """KEEP, DROP or BLANK for one field of a record whose ``shape.key`` values are ``identity``.

        Serves formats the profile cannot thin as JSON (XML elements).
        """
        if not self.sparse or name in shape.required:
            return KEEP
        if name in shape.omitted:
            return DROP
        fate = _FATES[self._draw(shape.kind, identity, shape.drawn_as(name)) % len(_FATES)]
        return DROP if fate == KEEP and name in shape.never else fate

    def thin(self, record: dict[str, Any], shape: RecordShape) -> dict[str, Any]:
        """The record as this profile sends it: unchanged (the same object) in the full profile."""
        if not self.sparse:
            return record
        return self._thin(record, shape)

    def _thin(self, record: Mapping[str, Any], shape: RecordShape) -> dict[str, Any]:
        identity = tuple(record.get(name) for name in shape.key)
        out: dict[str, Any] = {}
        for name, value in record.items():
            fate = self.field_fate(shape, identity, name)
            if fate == KEEP:
                out[name] = self._thin_nested(value, shape.nested.get(name))
            elif fate == BLANK and (blank := _blank(value)) is not _ABSENT:
                out[name] = blank
        return out

    def _thin_nested(self, value: Any, shape: RecordShape | None) -> Any:
        if shape is None:
            return value
        if isinstance(value, Mapping):
            return self._thin(value, shape)
        if isinstance(value, list):
            return [self._thin(item, shape) if isinstance(item, Mapping) else item for item in value]
        return value

    def _draw(self, *parts: object) -> int:
        text = ":".join(str(part) for part in (self._salt, *parts))
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _blank(value: Any) -> Any:
    """A field's blank value: "" for text, an empty list or object; _ABSENT where there is none."""
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return []
    if isinstance(value, Mapping):
        return {}
    return _ABSENT


class SandboxApp(abc.ABC):
    """A vendor's API over deterministic synthetic data and a simulated clock.

    The data is a pure function of ``seed`` and ``scale`` relative to
    ``start_date``; the clock starts at ``CLOCK_START_HOUR`` UTC that day.
    ``profile`` (``full`` or ``sparse``, see :class:`SandboxProfile`) says how
    much of each record is sent; the data behind it is the same.
    Implementations decorate ``handle`` and ``advance`` with
    :func:`synchronized`, because the server calls them from many threads.
    """

    vendor: str = ""
    title: str = ""
    # Where fault injection finds this vendor's event records; None: no drift or bad data.
    fault_target: ClassVar[FaultTarget | None] = None

    def __init__(
        self, *, seed: int = 1, scale: str = "small", start_date: dt.date | None = None, profile: str = FULL,
    ) -> None:
        self.seed = seed
        self.scale = scale
        self.profile = SandboxProfile(profile, seed=seed, vendor=self.vendor)
        self.start_date = start_date or dt.datetime.now(dt.UTC).date()
        self.lock = threading.RLock()
        self._now = dt.datetime.combine(self.start_date, dt.time(CLOCK_START_HOUR), tzinfo=dt.UTC)

    @property
    def now(self) -> dt.datetime:
        """The simulated current time (aware, UTC)."""
        return self._now

    @property
    def today(self) -> dt.date:
        """The simulated current date (UTC)."""
        return self._now.date()

    @abc.abstractmethod
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SandboxResponse:
        """Answer one request to the vendor's API."""

    def advance(self, days: int = 1) -> dict[str, Any]:
        """Move the clock forward day by day, applying each day's changes.

        Returns what changed, each day's counts summed (JSON-able).
        """
        with self.lock:
            summary: dict[str, int] = {}
            for _ in range(days):
                self._tick(1)
                for key, value in self._advance_one_day().items():
                    summary[key] = summary.get(key, 0) + value
            return summary

    @abc.abstractmethod
    def _advance_one_day(self) -> dict[str, int]:
        """Apply the changes of the day the clock has just reached; every count, even 0."""

    @abc.abstractmethod
    def settings(self, base_url: str) -> dict[str, str]:
        """Environment variables (dlt-style names) a client needs to reach this sandbox."""

    def presented_token(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        """The token this API call carries, which an ``expired_token`` fault may make stale.

        None for calls without one, and always for vendors that use static keys.
        """
        return None

    def expire_token(self, token: str) -> SandboxResponse:
        """Make ``token`` stale and answer the vendor's own 401 for an expired token."""
        raise NotImplementedError(f"{type(self).__name__} has no tokens to expire")

    def _tick(self, days: int = 1) -> None:
        """Move the clock; subclasses call this from ``advance``."""
        self._now += dt.timedelta(days=days)


class SandboxServer:
    """Serves one :class:`SandboxApp` on loopback over HTTP/1.1 with keep-alive."""

    def __init__(
        self,
        app: SandboxApp,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        latency: float = 0.0,
        faults: FaultPlan | None = None,
    ) -> None:
        # Imported here: the faults module builds on this one's responses.
        from sandboxes.faults import FaultInjector

        self.app = app
        self.latency = latency
        self.faults: FaultInjector = FaultInjector(faults)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Switch fault injection to ``plan`` (None: off) while serving; the counts are kept."""
        self.faults.set_plan(plan)

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self.faults.resume()
        self._httpd = _HTTPServer(self._address, _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"sandbox-{self.app.vendor or 'app'}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.faults.interrupt()  # a slow answer must not hold the server up
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respond(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> SandboxResponse:
        """Route one request: control routes here, everything else to the app."""
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        if split.path.startswith(CONTROL_PREFIX):
            return self._control(method, split.path[len(CONTROL_PREFIX):], query)
        if self.latency > 0:
            time.sleep(self.latency)
        return self.faults.answer(self.app, method, split.path, query, headers, body)

    def _control(self, method: str, route: str, query: dict[str, list[str]]) -> SandboxResponse:
        app = self.app
        if route == "advance" and method == "POST":
            raw = query.get("days", ["1"])[0]
            if not raw.isdigit() or int(raw) < 1:
                return SandboxResponse.error(400, "days must be a positive integer", parameter="days")
            with app.lock:
                summary = app.advance(int(raw))
                today = app.today
            return SandboxResponse.json({"today": today.isoformat(), **summary})
        if route == "clock" and method == "GET":
            with app.lock:
                today, now = app.today, app.now
            return SandboxResponse.json({"today": today.isoformat(), "now": now.isoformat()})
        if route == "faults":
            return self._control_faults(method, query)
        return SandboxResponse.error(404, "unknown sandbox control route")

    def _control_faults(self, method: str, query: dict[str, list[str]]) -> SandboxResponse:
        from sandboxes.faults import FaultPlan

        if method == "GET":
            return SandboxResponse.json(self.faults.status())
        if method != "POST":
            return SandboxResponse.error(405, "use GET or POST", allowed=["GET", "POST"])
        try:
            plan = FaultPlan.from_query(query)
        except ValueError as problem:
            return SandboxResponse.error(400, str(problem))
        self.set_faults(plan)
        return SandboxResponse.json(plan.to_json() if plan else None)


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = REQUEST_QUEUE_SIZE
    daemon_threads = True
    # Keep-alive handler threads may sit idle in a read; never wait for them.
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: SandboxServer):
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._resetting: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # Headers and body go out in separate writes; with Nagle on, each
        # keep-alive response would wait for the peer's delayed ACK (~40 ms).
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(conn)
        return conn, addr

    def reset_on_close(self, conn: socket.socket) -> None:
        """Make the end of this connection a reset (RST), not an orderly close."""
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        with self._connections_lock:
            self._resetting.add(conn)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
            reset = request in self._resetting
            self._resetting.discard(request)
        if reset:
            # shutdown() would send a FIN first; closing alone sends the RST.
            self.close_request(request)
            return
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End open keep-alive connections, so a stopped server answers nothing."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects are routine; tracebacks could echo request data.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_TIMEOUT
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            response = SandboxResponse.error(400, "invalid Content-Length")
            # The body's end is unknown, so the stream cannot carry another request.
            response.headers["Connection"] = "close"
            self._send(response)
            return
        body = self.rfile.read(length)
        _serving.peer = self.client_address[0]
        try:
            response = self.server.owner.respond(self.command, self.path, self.headers, body)
            payload = None if response.is_stream else response.encoded()
        except Exception as exc:  # a handler bug must still answer, never drop the connection
            response = self._internal_error(exc)
            payload = response.encoded()
        finally:
            _serving.peer = None
        self._send(response, payload)

    @staticmethod
    def _internal_error(exc: Exception) -> SandboxResponse:
        return SandboxResponse.error(500, "internal sandbox error", type=type(exc).__name__)

    def _send(self, response: SandboxResponse, payload: bytes | None = None) -> None:
        if response.reset_midway:
            self._send_then_reset(response, payload)
            return
        if payload is None and response.is_stream:
            self._send_stream(response)
            return
        if payload is None:
            payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(self, response: SandboxResponse) -> None:
        """Send a streamed body as HTTP/1.1 chunks, framed here as they come.

        The first chunk is produced before the status line, so a stream that
        fails at once still answers 500. One that fails later closes the
        connection without the final chunk: the client sees a truncated body.
        An HTTP/1.0 client gets the chunks unframed, ended by closing.
        """
        chunks = iter(response.body)
        try:
            first = next(chunks, b"")
        except Exception as exc:
            _close(chunks)
            self._send(self._internal_error(exc))
            return
        chunked = self.request_version == "HTTP/1.1"
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.end_headers()
        write = self.wfile.write
        chunk: bytes | None = first
        try:
            while chunk is not None:
                if chunk:
                    write(b"%X\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                try:
                    chunk = next(chunks)
                except StopIteration:
                    chunk = None
                except Exception:
                    # The status line is out: the only way left to signal the
                    # failure is to end the connection before the last chunk.
                    self.close_connection = True
                    return
            if chunked:
                write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
            raise
        finally:
            _close(chunks)

    def _send_then_reset(self, response: SandboxResponse, payload: bytes | None) -> None:
        """Headers promising the whole body, about half of it, then a connection reset.

        A stream is collected first (fault injection runs at small scales) and
        keeps its chunked framing; the client sees the body broken off.
        """
        chunked = payload is None and self.request_version == "HTTP/1.1"
        if payload is None:
            try:
                payload = response.encoded()
            except Exception as exc:
                self._send(self._internal_error(exc))
                return
        part = payload[: len(payload) // 2]
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.end_headers()
        if part:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(part), part) if chunked else part)
        self.close_connection = True
        self.server.reset_on_close(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry API keys in their query strings: log nothing.
        pass


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


# --------------------------------------------------------------------------
# Synthetic people shared by all vendor sandboxes
# --------------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Paul", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Kenneth", "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George",
    "Melissa", "Timothy", "Deborah", "Aisha", "Mateo", "Priya", "Kenji", "Olga", "Sven", "Amara",
    "Luca", "Fatima", "Noah", "Chloe", "Ravi",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Okafor", "Tanaka", "Kowalski",
    "Lindqvist", "Haddad", "Patel", "Rossi", "Novak", "Dubois", "Murphy",
)
MIDDLE_INITIALS = ("", "", "", "A", "B", "C", "J", "M", "R", "S")
COMPANIES = (
    "Acme Health", "Northwind Traders", "Globex", "Initech", "Umbrella Labs", "Stark Analytics",
    "Wayne Medical", "Soylent Foods", "Hooli", "Vandelay Industries", "Pied Piper", "Tyrell Systems",
    "Cyberdyne", "Wonka Industries", "Oceanic Airlines", "Massive Dynamic", "Aperture Science",
    "Gringotts Finance", "Monarch Solutions", "Blue Sun", "Dunder Mifflin", "Prestige Worldwide",
    "Sterling Cooper", "Bluth Company", "Nakatomi Trading", "Virtucon", "Sirius Cybernetics",
    "Black Mesa", "Kerrigan Partners", "Riverside Clinic",
)
JOB_TITLES = (
    "Analyst", "Engineer", "Senior Engineer", "Manager", "Director", "VP Operations", "Nurse",
    "Physician", "Pharmacist", "Consultant", "Product Manager", "Data Scientist", "Accountant",
    "Researcher", "Professor", "Student", "Coordinator", "CEO", "CTO", "Sales Lead",
)
# (city, state, zip prefix, ISO 3166 alpha-3 country)
LOCATIONS = (
    ("Chicago", "IL", "606", "USA"), ("New York", "NY", "100", "USA"), ("Austin", "TX", "787", "USA"),
    ("Denver", "CO", "802", "USA"), ("Seattle", "WA", "981", "USA"), ("Boston", "MA", "021", "USA"),
    ("Atlanta", "GA", "303", "USA"), ("Miami", "FL", "331", "USA"), ("Phoenix", "AZ", "850", "USA"),
    ("Portland", "OR", "972", "USA"), ("Toronto", "ON", "M5V", "CAN"), ("Vancouver", "BC", "V6B", "CAN"),
    ("London", "", "EC1", "GBR"), ("Manchester", "", "M1 ", "GBR"), ("Dublin", "", "D02", "IRL"),
    ("Berlin", "", "101", "DEU"), ("Paris", "", "750", "FRA"), ("Madrid", "", "280", "ESP"),
    ("Sydney", "NSW", "200", "AUS"), ("Singapore", "", "018", "SGP"),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "corp.example.com")
# Share of people whose e-mail is stored as typed: odd case or stray spaces.
MESSY_EMAIL_RATE = 0.05
_MESSY_EMAIL_STYLES = 3


class Person(NamedTuple):
    index: int
    first_name: str
    middle_name: str
    last_name: str
    email: str
    company: str
    title: str
    city: str
    state: str
    zip_code: str
    country: str
    phone: str


class PersonPool:
    """A deterministic pool of synthetic people, indexed ``0 .. size-1``.

    Each person is kept as one tuple of small ints (a few dozen bytes); the
    strings are built on access, so pools of hundreds of thousands are cheap.
    The same ``seed`` gives the same person at the same index in every vendor
    sandbox, which lets cross-vendor matching by e-mail be exercised.
    About ``MESSY_EMAIL_RATE`` of the e-mails have upper-case letters or
    surrounding spaces, as people type them.
    """

    def __init__(self, seed: int, size: int) -> None:
        rng = random.Random(f"people:{seed}")
        pick = rng.randrange
        self._rows = [
            (
                pick(len(FIRST_NAMES)),
                pick(len(MIDDLE_INITIALS)),
                pick(len(LAST_NAMES)),
                pick(len(COMPANIES)),
                pick(len(JOB_TITLES)),
                pick(len(LOCATIONS)),
                pick(len(EMAIL_DOMAINS)),
                1 + pick(_MESSY_EMAIL_STYLES) if rng.random() < MESSY_EMAIL_RATE else 0,
            )
            for _ in range(size)
        ]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> Person:
        first, middle, last, company, title, location, domain, messy = self._rows[index]
        first_name, last_name = FIRST_NAMES[first], LAST_NAMES[last]
        city, state, zip_prefix, country = LOCATIONS[location]
        return Person(
            index=index,
            first_name=first_name,
            middle_name=MIDDLE_INITIALS[middle],
            last_name=last_name,
            email=_messy_email(f"{first_name}.{last_name}{index}@{EMAIL_DOMAINS[domain]}", messy),
            company=COMPANIES[company],
            title=JOB_TITLES[title],
            city=city,
            state=state,
            zip_code=f"{zip_prefix}{index % 100:02d}",
            country=country,
            phone=f"+1-555-{(index * 7919) % 1000:03d}-{index % 10000:04d}",
        )

    def find_email(self, email: str) -> int | None:
        """Index of the person with this e-mail, compared case- and space-insensitively."""
        wanted = email.strip().lower()
        local, _, domain = wanted.partition("@")
        digits = local[len(local.rstrip("0123456789")):]
        if not digits:
            return None
        index = int(digits)
        if index < len(self) and self[index].email.strip().lower() == wanted:
            return index
        return None


def _messy_email(clean: str, style: int) -> str:
    if style == 1:
        return clean  # as typed, e.g. "Mary.Smith12@example.com"
    if style == 2:
        return f" {clean.lower()} "
    if style == 3:
        return clean.upper()
    return clean.lower()

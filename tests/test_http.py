"""The shared HTTP layer against a real loopback server playing scripted responses."""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import pickle
import random
import socket
import struct
import threading
import time
import traceback
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest

from pipelines.http import (
    Redactor,
    RetryPolicy,
    VendorAuthError,
    VendorClient,
    VendorError,
    VendorHTTPError,
    VendorResponseError,
    retry_policy,
)

SECRET = "sekret-KEY-123"
ODD_SECRET = "s3cr3t/+ key=&x"  # changes under URL encoding
FAST = RetryPolicy(attempts=4, backoff_base=0.5, backoff_max=30.0, jitter=0.5)


# --- scripted server -------------------------------------------------------------------------

def reply(status=200, body=b'{"ok": true}', headers=None, delay=0.0):
    def step(h):
        if delay:
            h.server.fake.release.wait(delay)
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return step


def echo(status):
    """Body and a header both echo the request target, query string (and api_key) included."""
    def step(h):
        reply(status, body=f"you asked for {h.path}".encode(), headers={"X-Echo": h.path})(h)
    return step


def truncated(h):
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.write(b'{"partial":')
    h.wfile.flush()
    h.close_connection = True


def reset(h):
    # Linger 0 makes close() send RST instead of FIN.
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def concurrent(h):
    """Holds the request for ?delay= seconds and records how many are held at once."""
    fake, query = h.server.fake, parse_qs(urlsplit(h.path).query)
    with fake.lock:
        fake.active += 1
        fake.max_active = max(fake.max_active, fake.active)
    try:
        fake.release.wait(float(query.get("delay", ["0.1"])[0]))
    finally:
        with fake.lock:
            fake.active -= 1
    reply(200, body=json.dumps({"i": int(query["i"][0])}).encode())(h)


class FakeVendor:
    def __init__(self):
        self.routes: dict[str, list] = {}
        self.hits: Counter[str] = Counter()
        self.queries: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()
        self.active = self.max_active = 0
        self.release = threading.Event()  # set at teardown so slow handlers end at once
        self.base_url = ""

    def script(self, path, *steps):
        """Play steps in order for path; the last one repeats."""
        self.routes[path] = list(steps)

    def handle(self, h):
        url = urlsplit(h.path)
        with self.lock:
            n = self.hits[url.path]
            self.hits[url.path] += 1
            self.queries[url.path].append(url.query)
        steps = self.routes.get(url.path, [reply(404, b"no route")])
        steps[min(n, len(steps) - 1)](h)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real vendors
    disable_nagle_algorithm = True  # TCP_NODELAY on accepted sockets

    def do_GET(self):
        self.server.fake.handle(self)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out leave broken pipes behind; nothing to report


@pytest.fixture
def vendor():
    fake = FakeVendor()
    server = Server(("127.0.0.1", 0), Handler)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_client(vendor):
    """Builds an OPUS-like client (api_key in the query) whose sleeps are recorded, not slept."""
    clients = []

    def make(secret=SECRET, **kwargs):
        sleeps: list[float] = []
        kwargs.setdefault("retry", FAST)
        client = VendorClient("opus", "OPUS DX", vendor.base_url, params={"api_key": secret},
                              sleep=sleeps.append, rng=random.Random(7), **kwargs)
        clients.append(client)
        return client, sleeps

    yield make
    for client in clients:
        client.close()


def assert_backoff(sleeps, policy=FAST):
    for n, wait in enumerate(sleeps, start=1):
        ceiling = min(policy.backoff_max, policy.backoff_base * 2 ** (n - 1))
        assert ceiling * (1 - policy.jitter) <= wait <= ceiling, (n, wait)


# --- retries ---------------------------------------------------------------------------------

def test_server_errors_are_retried_until_success(vendor, make_client, caplog):
    vendor.script("/events", reply(500), reply(502), reply(503), reply(200, b'{"data": [1]}'))
    client, sleeps = make_client()
    with caplog.at_level(logging.WARNING, logger="turnout.http"):
        assert client.get_json("/events", {"limit": "10"}) == {"data": [1]}
    assert vendor.hits["/events"] == 4
    assert len(sleeps) == 3 and sleeps[0] < sleeps[2]
    assert_backoff(sleeps)
    warnings = [r.getMessage() for r in caplog.records if r.name == "turnout.http"]
    assert len(warnings) == 3
    assert all(part in warnings[0] for part in ("OPUS DX GET /events", "attempt 1/4", "HTTP 500"))
    assert all("?" not in w and "limit" not in w and SECRET not in w for w in warnings)


def test_retries_are_exhausted_with_capped_backoff(vendor, make_client):
    vendor.script("/down", reply(503, b"maintenance"))
    policy = RetryPolicy(attempts=5, backoff_base=10.0, backoff_max=15.0, jitter=0.0)
    client, sleeps = make_client(retry=policy)
    with pytest.raises(VendorHTTPError) as info:
        client.request("GET", "/down")
    assert vendor.hits["/down"] == 5
    assert sleeps == [10.0, 15.0, 15.0, 15.0]
    assert info.value.status == 503
    assert "gave up after 5 attempts" in str(info.value) and "maintenance" in str(info.value)


def test_the_retry_backoff_setting_sets_the_first_wait_and_doubles_it(vendor, make_client):
    vendor.script("/down", reply(503), reply(503), reply(503), reply(200, b"[]"))
    client, sleeps = make_client(retry=retry_policy("0.02"))
    assert client.get_json("/down") == []
    # Each wait is its step's delay less up to half of it, drawn at random.
    assert all(low <= wait <= high for wait, low, high in zip(sleeps, [0.01, 0.02, 0.04], [0.02, 0.04, 0.08], strict=True))


@pytest.mark.parametrize("backoff", ["-1", "soon"])
def test_a_retry_backoff_that_is_not_a_wait_is_refused(backoff):
    with pytest.raises(ValueError):
        retry_policy(backoff)


def test_429_retry_after_seconds_is_honoured(vendor, make_client):
    vendor.script("/sessions", reply(429, headers={"Retry-After": "2"}), reply(200, b"[]"))
    client, sleeps = make_client()
    assert client.get_json("/sessions") == []
    assert sleeps == [2.0]


def test_retry_after_http_date_is_honoured(vendor, make_client):
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    vendor.script("/registrants", reply(503, headers={"Retry-After": later}), reply(200, b"[]"))
    client, sleeps = make_client()
    assert client.get_json("/registrants") == []
    assert len(sleeps) == 1 and 27.0 < sleeps[0] <= 30.0


@pytest.mark.parametrize("retry_after", ["0", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_zero_or_past_retry_after_backs_off_instead_of_spinning(vendor, make_client, retry_after):
    busy = reply(429, headers={"Retry-After": retry_after})
    vendor.script("/attendees", busy, busy, busy, reply(200, b"[]"))
    client, sleeps = make_client()
    assert client.get_json("/attendees") == []
    assert len(sleeps) == 3 and all(wait > 0 for wait in sleeps)
    assert_backoff(sleeps)


def test_retry_after_too_long_fails_at_once(vendor, make_client):
    vendor.script("/speakers", reply(429, headers={"Retry-After": "3600"}))
    client, sleeps = make_client()
    with pytest.raises(VendorHTTPError) as info:
        client.get_json("/speakers")
    message = str(info.value)
    assert "OPUS DX GET /speakers" in message and "3600s" in message and "300s" in message
    assert info.value.status == 429 and vendor.hits["/speakers"] == 1 and sleeps == []


def test_dropped_and_reset_connections_are_retried(vendor, make_client, caplog):
    vendor.script("/packages", truncated, reset, reply(200, b'{"n": 3}'))
    client, sleeps = make_client()
    with caplog.at_level(logging.WARNING, logger="turnout.http"):
        assert client.get_json("/packages") == {"n": 3}
    assert vendor.hits["/packages"] == 3 and len(sleeps) == 2
    reasons = " ".join(r.getMessage() for r in caplog.records if r.name == "turnout.http")
    assert "RemoteProtocolError" in reasons and "ReadError" in reasons


def test_slow_response_times_out_then_fails_naming_endpoint(vendor, make_client):
    vendor.script("/slow", reply(200, delay=5.0))
    client, sleeps = make_client(timeout=httpx.Timeout(0.2), retry=RetryPolicy(attempts=3))
    started = time.monotonic()
    with pytest.raises(VendorHTTPError) as info:
        client.get_json("/slow", {"page": "2"})
    assert time.monotonic() - started < 3.0
    message = str(info.value)
    expected = ("OPUS DX GET /slow:", "gave up after 3 attempts", "ReadTimeout")
    assert all(part in message for part in expected)
    assert "page=" not in message
    assert info.value.status is None and vendor.hits["/slow"] == 3 and len(sleeps) == 2


def test_404_is_not_retried(vendor, make_client):
    vendor.script("/missing", reply(404, b'{"error": "no such event"}'))
    client, sleeps = make_client()
    with pytest.raises(VendorHTTPError) as info:
        client.get_json("/missing")
    assert not isinstance(info.value, VendorAuthError)
    assert info.value.status == 404 and vendor.hits["/missing"] == 1 and sleeps == []
    assert "no such event" in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_raise_auth_error_without_retry(vendor, make_client, status):
    vendor.script("/events", reply(status, b'{"error": "bad key"}'))
    client, sleeps = make_client()
    with pytest.raises(VendorAuthError) as info:
        client.get_json("/events")
    assert info.value.status == status and vendor.hits["/events"] == 1 and sleeps == []
    assert "OPUS DX GET /events" in str(info.value) and "credential rejected" in str(info.value)


def test_a_body_that_stays_invalid_json_raises_a_response_error_after_every_attempt(vendor, make_client):
    vendor.script("/events", reply(200, b"<html>Service temporarily unavailable</html>"))
    client, sleeps = make_client()
    with pytest.raises(VendorResponseError) as info:
        client.get_json("/events")
    message = str(info.value)
    assert all(part in message for part in ("OPUS DX GET /events", "not valid JSON", "<html>Service",
                                            f"gave up after {FAST.attempts} attempts"))
    assert isinstance(info.value, VendorError) and vendor.hits["/events"] == FAST.attempts
    assert_backoff(sleeps)


def test_a_body_cut_short_once_is_fetched_again(vendor, make_client):
    vendor.script("/events", reply(200, b'{"data": [1, 2'), reply(200, b'{"data": [1, 2]}'))
    client, sleeps = make_client()
    assert client.get_json("/events") == {"data": [1, 2]}
    assert vendor.hits["/events"] == 2 and len(sleeps) == 1


def test_secrets_are_registered_from_arguments_params_and_headers():
    client = VendorClient("eb", "EventBookings", "http://127.0.0.1:9", secrets=["client-secret-1"],
                          params={"apikey": "query-key-2", "limit": "1000"},
                          headers={"Authorization": "Bearer tok-3", "X-Api-Key": "hdr-key-4"})
    with client:
        client.redactor.add("oauth-token-5")  # as an auth flow does once it has a token
        text = "client-secret-1 query-key-2 tok-3 hdr-key-4 oauth-token-5 limit=1000"
        assert client.redactor.redact(text) == "*** *** *** *** *** limit=1000"


def test_response_error_for_sources_is_redacted(make_client):
    client, _ = make_client()
    error = client.response_error("/events?api_key=x", f"expected a list, got {SECRET!r}")
    assert str(error) == "OPUS DX GET /events: expected a list, got '***'"
    assert pickle.loads(pickle.dumps(error)).args == error.args


# --- redaction -------------------------------------------------------------------------------

def test_redactor_replaces_plain_and_url_encoded_forms():
    redactor = Redactor([ODD_SECRET, "abc", ""])
    encoded = [quote_plus(ODD_SECRET), quote(ODD_SECRET), quote(ODD_SECRET, safe="")]
    assert len(set(encoded)) == 3  # three distinct spellings of the same secret
    text = f"{ODD_SECRET} {' '.join(encoded)} {httpx.URL('http://h/', params={'k': ODD_SECRET})}"
    assert redactor.redact(text) == "*** *** *** *** http://h/?k=***"
    assert redactor.redact("abc is too short to be a secret") == "abc is too short to be a secret"
    redactor.add("late-token-42")
    assert redactor.redact("Bearer late-token-42") == "Bearer ***"


def leaks(secret, exc):
    """Every rendering of exc that could end up in a log or a Dagster event."""
    rendered = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            rendered += [str(linked), repr(linked)]
    forms = {secret, quote_plus(secret)}
    return [text for text in rendered if any(form in text for form in forms)]


SCENARIOS = {
    "404 echo": [echo(404)],
    "500 echo exhausted": [echo(500)],
    "invalid json echo": [echo(200)],
    "reset exhausted": [reset],
    "timeout": [reply(200, delay=5.0)],
}


@pytest.mark.parametrize("secret", [SECRET, ODD_SECRET])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secret_never_reaches_errors_or_logs(vendor, make_client, caplog, scenario, secret):
    for name in ("httpx", "httpcore", "turnout"):
        caplog.set_level(logging.DEBUG, logger=name)
    vendor.script("/leak", *SCENARIOS[scenario])
    client, _ = make_client(secret=secret, timeout=httpx.Timeout(0.2), retry=RetryPolicy(attempts=2))
    with pytest.raises(VendorError) as info:
        client.get_json("/leak", {"limit": "5"})
    # The key really went over the wire, so a leak was possible.
    assert quote_plus(secret) in vendor.queries["/leak"][0]
    assert leaks(secret, info.value) == []
    assert info.value.__cause__ is None and info.value.__context__ is None
    records = caplog.records
    assert any(r.name.startswith("httpcore.") for r in records)
    for text in [caplog.text, *(r.getMessage() for r in records)]:
        assert secret not in text and quote_plus(secret) not in text
    if scenario not in ("reset exhausted", "timeout"):
        # httpx's request line and httpcore's header dump carried the key; they now carry the mask.
        assert any(r.name == "httpx" and "api_key=***" in r.getMessage() for r in records)
        assert any(r.name == "httpcore.http11" and "X-Echo" in r.getMessage() and "***" in r.getMessage()
                   for r in records)


def test_handlers_attached_after_the_client_see_redacted_records(vendor, make_client, caplog):
    # Dagster attaches its own handlers to named loggers later; records from child loggers such as
    # httpcore.http11 reach those handlers before any root handler could redact them.
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    vendor.script("/leak", echo(200))
    client, _ = make_client()
    seen: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: seen.append(f"{record.name} {record.getMessage()}")
    loggers = [logging.getLogger("httpx"), logging.getLogger("httpcore")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with pytest.raises(VendorResponseError):
            client.get_json("/leak")
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert any(line.startswith("httpx ") and "api_key=***" in line for line in seen)
    assert any(line.startswith("httpcore.http11 ") and "X-Echo" in line for line in seen)
    assert not [line for line in seen if SECRET in line]


# --- concurrency -----------------------------------------------------------------------------

def test_map_in_flight_bounds_concurrency_and_keeps_input_order(vendor, make_client):
    vendor.script("/conc", concurrent)
    client, _ = make_client(max_in_flight=3)
    # Later items finish sooner, so completion order differs from input order.

    def fetch(i):
        return client.get_json("/conc", {"i": str(i), "delay": str(0.02 * (12 - i))})["i"]

    assert list(client.map_in_flight(fetch, range(12))) == list(range(12))
    assert vendor.max_active == 3


def test_nested_fan_out_and_other_threads_share_the_limit(vendor, make_client):
    vendor.script("/conc", concurrent)
    client, _ = make_client(max_in_flight=2)

    def fetch(i):
        return client.get_json("/conc", {"i": str(i), "delay": "0.05"})["i"]

    def outer(i):  # fans out again from inside a pool thread
        return list(client.map_in_flight(fetch, range(i * 3, i * 3 + 3)))

    threads = [threading.Thread(target=fetch, args=(100 + n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert list(client.map_in_flight(outer, range(4))) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    for thread in threads:
        thread.join()
    assert vendor.max_active == 2


def test_map_in_flight_starts_no_more_than_asked_ahead_of_the_oldest_result(make_client):
    client, _ = make_client(max_in_flight=8)
    started: list[int] = []

    def call(i):
        started.append(i)
        return i

    results = client.map_in_flight(call, range(20), ahead=3)
    assert next(results) == 0
    assert len(started) <= 3
    assert list(results) == list(range(1, 20))


def test_map_in_flight_reads_its_input_lazily(make_client):
    client, _ = make_client(max_in_flight=4)
    consumed = itertools.count()
    source = (next(consumed) for _ in range(100_000))  # finite, so a regression fails instead of hanging
    results = client.map_in_flight(lambda i: i * i, source)
    assert list(itertools.islice(results, 5)) == [0, 1, 4, 9, 16]
    results.close()
    assert next(consumed) <= 5 + 2 * 4  # only a bounded window was read ahead


def test_map_in_flight_propagates_the_first_error(make_client):
    client, _ = make_client(max_in_flight=3)
    started: list[int] = []

    def fn(i):
        started.append(i)
        if i == 3:
            raise ValueError("boom at 3")
        time.sleep(0.01)
        return i

    seen = []
    with pytest.raises(ValueError, match="boom at 3"):
        for result in client.map_in_flight(fn, range(10_000)):
            seen.append(result)
    assert seen == [0, 1, 2]
    assert max(started) < 3 + 2 * 3 + 3  # only a bounded window was ever submitted
    calls = len(started)
    time.sleep(0.1)
    assert len(started) == calls  # what had not started was cancelled, not left to run


def test_map_in_flight_makes_no_call_after_one_has_failed(make_client):
    client, _ = make_client(max_in_flight=2)
    called: list[int] = []

    def fn(i):
        called.append(i)
        if i == 1:
            raise ValueError("rejected at 1")
        time.sleep(0.3)  # item 0 is still awaited while item 1's worker is free again
        return i

    with pytest.raises(ValueError, match="rejected at 1"):
        list(client.map_in_flight(fn, range(10)))
    assert sorted(called) == [0, 1]  # the calls queued behind the failure were skipped, not sent

"""Shared HTTP layer for vendor sources: one pooled client per vendor, bounded
concurrency, retries that honour Retry-After, and redaction of secrets from
every error message and log line."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import httpx
import orjson
import tenacity

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("turnout.http")

DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds a vendor may take to answer (and between bytes of an answer)
DEFAULT_RETRY_BACKOFF = 0.5  # seconds before the first retry; each later one waits twice as long
MAX_CONNECT_TIMEOUT = 10.0
DEFAULT_TIMEOUT = httpx.Timeout(connect=MAX_CONNECT_TIMEOUT, read=DEFAULT_REQUEST_TIMEOUT, write=30.0,
                                pool=DEFAULT_REQUEST_TIMEOUT)
REDACTED = "***"
MIN_SECRET_LEN = 4  # shorter values would shred ordinary text
SNIPPET_CHARS = 200
SECRET_NAMES = frozenset({"api_key", "apikey", "key", "token", "client_secret", "secret", "password",
                          "access_token", "authorization"})
SECRET_SUFFIXES = ("_key", "_token", "_secret", "_password")
REDACTED_LOGGERS = ("httpx", "httpcore", "dlt", "turnout")
AUTH_STATUSES = frozenset({401, 403})
TOO_MANY_REQUESTS = 429
UTF8 = "utf-8"
# Transport failures worth another try; other httpx errors (bad URL, unknown scheme) are bugs.
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_Verdict = tuple[str, int | None, float | None]  # reason, HTTP status, Retry-After seconds


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # total tries including the first
    backoff_base: float = DEFAULT_RETRY_BACKOFF  # seconds; attempt n waits base * 2**(n-1), capped at backoff_max
    backoff_max: float = 30.0
    jitter: float = 0.5  # fraction of the delay that is randomised (1.0 = full jitter)
    max_retry_after: float = 300.0  # a longer Retry-After fails at once instead of stalling the run

    def __post_init__(self) -> None:
        if self.attempts < 1 or not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy needs attempts >= 1 and 0 <= jitter <= 1")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return delay * (1.0 - self.jitter * rng.random())


class VendorError(RuntimeError):
    """Base: the message names the vendor title and endpoint (method + path, no query string)."""

    def __init__(self, vendor: str, endpoint: str, detail: str):
        super().__init__(f"{vendor} {endpoint}: {detail}")
        self.vendor, self.endpoint, self.detail = vendor, endpoint, detail

    def __reduce__(self):  # keep pickling working despite the custom signature
        return type(self), (self.vendor, self.endpoint, self.detail)

    def for_request(self, request: str) -> VendorError:
        """The same error naming a more precise request (e.g. with its query, secrets left out)."""
        cls, args = self.__reduce__()
        return cls(args[0], request, *args[2:])

    def after_attempts(self, attempts: int) -> VendorError:
        """The same error, saying how many attempts it took to give up."""
        cls, args = self.__reduce__()
        return cls(args[0], args[1], f"gave up after {attempts} attempts: {self.detail}", *args[3:])


def vendor_error_behind(error: BaseException) -> VendorError | None:
    """The vendor error an exception was raised from (dlt wraps source errors), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, VendorError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class VendorHTTPError(VendorError):
    """Final HTTP or transport failure; `status` is None when no response arrived."""

    def __init__(self, vendor: str, endpoint: str, detail: str, status: int | None = None):
        super().__init__(vendor, endpoint, detail)
        self.status = status

    def __reduce__(self):
        return type(self), (self.vendor, self.endpoint, self.detail, self.status)


class VendorAuthError(VendorHTTPError):
    """401/403: the credential was rejected; never retried."""


class VendorResponseError(VendorError):
    """The body is not valid JSON or not the shape a source expects."""


class VendorBodyError(VendorResponseError):
    """The body does not parse, as when it was cut short: fetching it again may help."""


E = TypeVar("E", bound=VendorError)


class _RetryableFailure(Exception):
    """One failed attempt that another may fix; its text is already redacted."""

    def __init__(self, endpoint: str, reason: str, status: int | None, retry_after: float | None,
                 final: type[VendorHTTPError] | type[VendorResponseError] = VendorHTTPError):
        super().__init__(reason)
        self.endpoint, self.reason, self.status, self.retry_after = endpoint, reason, status, retry_after
        self.final = final  # what the last failure becomes once every attempt is spent


class Redactor:
    """Replaces known secrets, and their URL-encoded forms, with '***'."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._needles: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret or len(str(secret)) < MIN_SECRET_LEN:
            return
        secret = str(secret)
        forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret),
                 str(httpx.QueryParams({"k": secret}))[2:]}
        with self._lock:  # longest first, so an encoded form is never half-replaced by a shorter one
            self._needles = tuple(sorted(set(self._needles) | forms, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for needle in self._needles:
            text = text.replace(needle, REDACTED)
        return text


class _RedactingFilter(logging.Filter):
    """Formats each record once and stores the redacted text, so no handler sees a secret."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()  # closed clients drop out

    def add(self, redactor: Redactor) -> None:
        with self._lock:
            self._redactors.add(redactor)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            redactors = list(self._redactors)
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return True
        for redactor in redactors:
            text = redactor.redact(text)
        record.msg, record.args = text, ()
        return True


_LOG_FILTER = _RedactingFilter()


def install_log_redaction(redactor: Redactor) -> None:
    """Idempotently redact this redactor's secrets from the HTTP, dlt and turnout logs."""
    _LOG_FILTER.add(redactor)
    # Logger filters do not apply to records from child loggers (httpcore.http11, turnout.http),
    # so attach to every existing descendant too; root handlers catch what propagates later.
    existing = [n for n in list(logging.root.manager.loggerDict)
                if any(n == p or n.startswith(p + ".") for p in REDACTED_LOGGERS)]
    for name in {*REDACTED_LOGGERS, *existing}:
        logging.getLogger(name).addFilter(_LOG_FILTER)  # addFilter ignores duplicates
    for handler in logging.getLogger().handlers:
        handler.addFilter(_LOG_FILTER)


def request_timeout(seconds: float | str) -> httpx.Timeout:
    """The client timeouts for a vendor's `request_timeout` setting, in seconds."""
    value = float(seconds)
    if not value > 0:
        raise ValueError(f"request_timeout must be a positive number of seconds, not {seconds!r}")
    return httpx.Timeout(connect=min(MAX_CONNECT_TIMEOUT, value), read=value, write=value, pool=value)


def retry_policy(backoff: float | str) -> RetryPolicy:
    """The retry policy for a vendor's `retry_backoff` setting: the first retry's wait, in seconds."""
    value = float(backoff)
    if not value >= 0:
        raise ValueError(f"retry_backoff must be a number of seconds, 0 or more, not {backoff!r}")
    return RetryPolicy(backoff_base=value)


def _endpoint(method: str, path: str) -> str:
    return f"{method.upper()} {path.split('?', 1)[0].split('#', 1)[0]}"


def _looks_secret(name: str) -> bool:
    name = name.lower().replace("-", "_")
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), never negative."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _Skipped(Exception):
    """A call map_in_flight did not make because an earlier one had failed (never seen:
    the earlier failure is raised first)."""


def _decoded_json(response: httpx.Response) -> Any:
    """The body parsed; orjson for UTF-8 (what vendors send), where a large page decodes
    in half the time the standard decoder takes while holding the GIL."""
    if (response.encoding or UTF8).lower().replace("_", "-") in (UTF8, "utf8"):
        return orjson.loads(response.content)
    return response.json()


class VendorClient:
    """HTTP client for one vendor: pooled keep-alive connections, retries, redacted errors."""

    def __init__(self, vendor: str, title: str, base_url: str, *, secrets: Iterable[str] = (),
                 params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | None = None, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 max_in_flight: int = 8, retry: RetryPolicy = RetryPolicy(),
                 transport: httpx.BaseTransport | None = None,
                 describe_error: Callable[[str], str | None] | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.vendor, self.title, self.retry, self.max_in_flight = vendor, title, retry, max_in_flight
        self.redactor = Redactor(secrets)
        # Turns a vendor's error body (e.g. an XML error document) into a readable detail.
        self._describe_error = describe_error
        self._register(params)
        self._register(headers)
        install_log_redaction(self.redactor)
        # Held only around one HTTP exchange (never while sleeping), so nested fan-out cannot deadlock.
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._sleep, self._rng = sleep, rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url, params=params, headers=headers, auth=auth, timeout=timeout,
            follow_redirects=False, transport=transport,
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight))

    def _register(self, values: Any) -> None:
        pairs = values.items() if hasattr(values, "items") else (values or ())
        for name, value in pairs:
            if _looks_secret(str(name)) and value:
                self.redactor.add(str(value))
                self.redactor.add(str(value).rpartition(" ")[2])  # the token in "Bearer <token>"

    def _fail(self, cls: type[E], endpoint: str, detail: str, **extra: Any) -> E:
        return cls(self.title, self.redactor.redact(endpoint), self.redactor.redact(detail), **extra)

    def _snippet(self, text: str) -> str:
        text = " ".join(self.redactor.redact(text).split())
        return (text[:SNIPPET_CHARS] + "…" if len(text) > SNIPPET_CHARS else text) or "(empty body)"

    def _error_body(self, text: str) -> str:
        described = self._describe_error(text) if self._describe_error else None
        return self._snippet(described) if described else self._snippet(text)

    def _send(self, endpoint: str, method: str, path: str, *, stream: bool = False,
              **kwargs: Any) -> httpx.Response | str:
        """The response, or a description of a retryable transport failure."""
        try:
            with self._slots:
                return self._http.send(self._http.build_request(method, path, **kwargs), stream=stream)
        except RETRYABLE_ERRORS as exc:
            return self.redactor.redact(f"{type(exc).__name__}: {exc}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = f"{type(exc).__name__}: {exc}"
        # Raised outside the except block so no httpx exception (its text holds the full URL) is chained.
        raise self._fail(VendorHTTPError, endpoint, detail) from None

    def _assess(self, endpoint: str, outcome: httpx.Response | str) -> _Verdict:
        """Why an attempt failed, its status and Retry-After; raises if retrying cannot help."""
        if isinstance(outcome, str):
            return outcome, None, None
        status, policy = outcome.status_code, self.retry
        reason = f"HTTP {status} {outcome.reason_phrase}: {self._error_body(outcome.text)}"
        if status in AUTH_STATUSES:
            detail = f"credential rejected ({reason})"
            raise self._fail(VendorAuthError, endpoint, detail, status=status) from None
        if status != TOO_MANY_REQUESTS and status < 500:
            raise self._fail(VendorHTTPError, endpoint, reason, status=status) from None
        wait = _retry_after(outcome.headers.get("Retry-After"))
        if wait is not None and wait > policy.max_retry_after:
            detail = (f"{reason}; the vendor asked to wait {wait:.0f}s (Retry-After), "
                      f"more than the {policy.max_retry_after:.0f}s allowed")
            raise self._fail(VendorHTTPError, endpoint, detail, status=status) from None
        return reason, status, wait

    def request(self, method: str, path: str, *, params: Mapping | None = None, json: Any = None,
                data: Any = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return self._with_retries(self._attempt, method, path,
                                  params=params, json=json, data=data, headers=headers)

    @contextlib.contextmanager
    def stream(self, path: str, params: Mapping | None = None, method: str = "GET") -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives (see `body_chunks`).

        Only reaching the headers is retried: once part of the body has been
        handed on, a failure is final.
        """
        response = self._with_retries(self._attempt_stream, method, path, params=params)
        try:
            yield response
        finally:
            response.close()

    def body_chunks(self, response: httpx.Response, path: str, method: str = "GET") -> Iterator[bytes]:
        """The body of a streamed response, a transport failure midway named like any other."""
        received = 0
        try:
            for chunk in response.iter_bytes():
                received += len(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            detail = f"the response broke off after {received} bytes ({type(exc).__name__}: {exc})"
        else:
            return
        raise self._fail(VendorHTTPError, _endpoint(method, path), detail) from None

    def _with_retries(self, attempt: Callable[..., httpx.Response], method: str, path: str,
                      **kwargs: Any) -> httpx.Response:
        endpoint = _endpoint(method, path)
        self._register(kwargs.get("params"))
        self._register(kwargs.get("headers"))
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(attempt, endpoint, method, path, **kwargs)
        except _RetryableFailure as failure:
            last = failure
        detail = f"gave up after {self.retry.attempts} attempts: {last.reason}"
        # Raised outside the except block: nothing is chained into the traceback.
        if last.final is VendorResponseError:
            raise self._fail(VendorResponseError, endpoint, detail) from None
        raise self._fail(VendorHTTPError, endpoint, detail, status=last.status) from None

    def _attempt(self, endpoint: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        outcome = self._send(endpoint, method, path, **kwargs)
        if isinstance(outcome, httpx.Response) and outcome.is_success:
            return outcome
        reason, status, wait = self._assess(endpoint, outcome)
        raise _RetryableFailure(endpoint, reason, status, wait)

    def _attempt_stream(self, endpoint: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        outcome = self._send(endpoint, method, path, stream=True, **kwargs)
        if isinstance(outcome, httpx.Response):
            if outcome.is_success:
                return outcome
            response = outcome
            try:
                response.read()  # error bodies are small, and say what went wrong
            except httpx.HTTPError as exc:
                outcome = self.redactor.redact(f"{type(exc).__name__}: {exc}")
            finally:
                response.close()
        reason, status, wait = self._assess(endpoint, outcome)
        raise _RetryableFailure(endpoint, reason, status, wait)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        retry_after = failure.retry_after if isinstance(failure, _RetryableFailure) else None
        # Retry-After: 0 (or a past date) would burn every attempt at once: back off instead.
        return retry_after or self.retry.backoff(state.attempt_number, self._rng)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s %s: attempt %d/%d failed (%s); retrying in %.2fs", self.title,
                    getattr(failure, "endpoint", "?"), state.attempt_number, self.retry.attempts,
                    getattr(failure, "reason", failure), wait)

    def get_json(self, path: str, params: Mapping | None = None) -> Any:
        """The parsed body; one that does not parse is fetched again like a failed request.

        A body cut short by a proxy or a vendor hiccup is as transient as a 503;
        one that stays invalid through every attempt fails as a response error.
        """
        return self.request_json("GET", path, params=params)

    def request_json(self, method: str, path: str, *, params: Mapping | None = None, data: Any = None,
                     quote_body: bool = True) -> Any:
        """`get_json` for any method: a body that does not parse is requested again.

        Without `quote_body`, errors leave out the body: a token answer cut short still
        holds part of a token no redactor knows yet.
        """
        return self._with_retries(self._attempt_json, method, path, params=params, data=data, quote_body=quote_body)

    def _attempt_json(self, endpoint: str, method: str, path: str, quote_body: bool = True, **kwargs: Any) -> Any:
        response = self._attempt(endpoint, method, path, **kwargs)
        try:
            return _decoded_json(response)
        except ValueError as exc:
            # The decoder's message gives a position, never the text itself.
            reason = f"response is not valid JSON ({exc})"
            if quote_body:
                reason += f"; body: {self._snippet(response.text)}"
        raise _RetryableFailure(endpoint, reason, response.status_code, None, final=VendorResponseError)

    def response_error(self, path: str, detail: str, method: str = "GET",
                       cls: type[VendorResponseError] = VendorResponseError) -> VendorResponseError:
        """An error for a body of the wrong shape, named and redacted like every other."""
        return self._fail(cls, _endpoint(method, path), detail)

    def pause_before_retry(self, attempt: int) -> None:
        """Back off as between failed attempts of a request, for retries a source makes itself."""
        self._sleep(self.retry.backoff(attempt, self._rng))

    def map_in_flight(self, fn: Callable[[T], R], items: Iterable[T], ahead: int | None = None) -> Iterator[R]:
        """Run fn over items, at most max_in_flight at once, yielding results in input order.

        At most `ahead` results (default: twice max_in_flight) are started before the oldest
        is taken: results that are large can keep fewer waiting.

        Once one call fails, calls not yet started are not made: after a rejected key or a
        request that gave up, the vendor hears no more from this run. Calls start in input
        order, so every call skipped comes after the failure, which is raised in its turn.
        """
        window = max(1, ahead) if ahead is not None else 2 * self.max_in_flight
        pool = ThreadPoolExecutor(min(self.max_in_flight, window), thread_name_prefix=f"turnout-{self.vendor}")
        pending: deque[Future[R]] = deque()
        failures: list[BaseException] = []

        def call(item: T) -> R:
            if failures:
                raise _Skipped
            try:
                return fn(item)
            except BaseException as exc:
                failures.append(exc)
                raise

        try:
            for item in items:
                pending.append(pool.submit(call, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # on error or early exit: cancel what has not started, wait for what is running
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

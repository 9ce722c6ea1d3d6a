"""Whether a vendor's hosts can be reached: one TCP connect per URL setting before a run
sends a request, so a typo or a dead host fails in seconds, naming the setting."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from pipelines.urls import DEFAULT_PORTS, is_http_url

if TYPE_CHECKING:
    from pipelines.vendor import Vendor

# A few tries, so a blip at the moment of the probe does not fail the vendor's day.
PROBE_ATTEMPTS = 3
PROBE_PAUSE_SECONDS = 1.0
PROBE_CONNECT_SECONDS = 3.0
# getaddrinfo has no timeout of its own; a resolver that hangs counts as unreachable.
PROBE_RESOLVE_SECONDS = 4.0


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
    endpoints = [endpoint for vendor in vendors for endpoint in endpoints_of(vendor)]
    problems: dict[str, list[str]] = {vendor.name: [] for vendor in vendors}
    if not endpoints:
        return problems
    with ThreadPoolExecutor(len(endpoints), thread_name_prefix="turnout-probe") as pool:
        for endpoint, problem in zip(endpoints, pool.map(Endpoint.problem, endpoints), strict=True):
            if problem:
                problems[endpoint.vendor].append(problem)
    return problems


def endpoints_of(vendor: Vendor) -> list[Endpoint]:
    """The host and port behind each well-formed URL setting, to probe before a run."""
    endpoints = []
    for setting, value in vendor.url_settings().items():
        if not is_http_url(value):
            continue  # setting_problems names it
        parts = urlsplit(value)
        if _behind_proxy(parts):
            continue  # the HTTP client goes through the proxy, so a direct connect proves nothing
        host, port = parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme]
        endpoints.append(Endpoint(vendor.name, vendor.title, vendor.env_name(setting), host, port))
    return endpoints


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

"""What every sandbox test client shares: a keep-alive connection, the simulated clock, and
sandboxes served for one test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import httpx

from sandboxes.server import SandboxApp, SandboxServer


class SandboxClient:
    """A plain httpx client for one sandbox server; vendor test clients add their API."""

    def __init__(self, server: SandboxServer, timeout: float = 60) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=timeout)

    def advance(self, days: int = 1) -> dict[str, Any]:
        response = self.http.post("/_sandbox/advance", params={"days": days})
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


@contextlib.contextmanager
def serving() -> Iterator[Callable[[SandboxApp, Callable[[SandboxServer], C]], C]]:
    """Serves sandboxes for one test, each with its client; every one is stopped at the end."""
    opened: list[tuple[SandboxServer, _Closable]] = []

    def serve(app: SandboxApp, client_for: Callable[[SandboxServer], C]) -> C:
        server = SandboxServer(app).start()
        client = client_for(server)
        opened.append((server, client))
        return client

    try:
        yield serve
    finally:
        for server, client in opened:
            client.close()
            server.stop()

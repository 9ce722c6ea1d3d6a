"""What every sandbox test client shares: a keep-alive connection and the simulated clock."""

from __future__ import annotations

from typing import Any

import httpx

from pipelines.sandbox import SandboxServer


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

"""Toy Events' sandbox: three events at GET /events, the same every day.

Copied to `sandboxes/toy.py` by tests/test_fifth_vendor.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sandboxes.server import SandboxApp, SandboxResponse, synchronized

EVENTS = 3


class ToySandbox(SandboxApp):
    vendor = "toy"
    title = "Toy Events"

    def __init__(self, **options) -> None:
        super().__init__(**{key: options[key] for key in ("seed", "scale", "start_date", "profile") if key in options})

    @synchronized
    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> SandboxResponse:
        if (method, path) != ("GET", "/events"):
            return SandboxResponse(404, {"error": "not found"})
        events = [{"id": f"T{n}", "name": f"Toy event {n}",
                   "starts_at": f"{self.today + dt.timedelta(days=n)}T10:00:00",
                   "ends_at": f"{self.today + dt.timedelta(days=n)}T12:00:00"}
                  for n in range(1, EVENTS + 1)]
        return SandboxResponse(200, {"events": events})

    def _advance_one_day(self) -> dict[str, int]:
        return {"events": 0}

    def settings(self, base_url: str) -> dict[str, str]:
        return {"SOURCES__TOY__BASE_URL": base_url}


SANDBOX = ToySandbox

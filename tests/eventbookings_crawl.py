"""An independent crawl of the EventBookings API, written from the vendor doc with plain httpx.

It shares no code with the EventBookings source (token, pagination and money
parsing are done here again), so the warehouse can be checked against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

ROWS = 20  # the documented minimum, unlike the source's 100, so pagination differs too


@dataclass
class Crawl:
    events: set[str] = field(default_factory=set)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # uuid -> order
    attendees: set[tuple[str, str]] = field(default_factory=set)  # (event uuid, attendee uuid)
    checked_in: set[tuple[str, str]] = field(default_factory=set)
    waiting: set[tuple[str, str]] = field(default_factory=set)  # (event uuid, waiting-list entry uuid)
    currency: dict[str, str] = field(default_factory=dict)  # event uuid -> ISO code

    def order_totals(self) -> dict[str, Decimal]:
        return {uuid: amount(order["total"]) for uuid, order in self.orders.items()}

    def emails(self) -> set[str]:
        return {str(order["buyer"]["email"]).strip().lower() for order in self.orders.values()}


def amount(text: str) -> Decimal:
    """'$1,250.00' -> Decimal('1250.00')."""
    return Decimal(re.sub(r"[^0-9.\-]", "", text)).quantize(Decimal("0.01"))


def token(settings: dict[str, str]) -> str:
    response = httpx.post(settings["SOURCES__EVENTBOOKINGS__TOKEN_URL"], data={
        "client_id": settings["SOURCES__EVENTBOOKINGS__CLIENT_ID"],
        "client_secret": settings["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"],
        "grant_type": "client_credentials",
    })
    response.raise_for_status()
    return response.json()["access_token"]


def _get(client: httpx.Client, settings: dict[str, str], path: str, params: dict) -> dict:
    response = client.get(path, params=params)
    if response.status_code == 401:  # the token expired: take a new one
        client.headers["Authorization"] = f"Bearer {token(settings)}"
        response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()


def _pages(client: httpx.Client, settings: dict[str, str], path: str, key: str) -> list[dict]:
    rows: list[dict] = []
    position = 0
    while True:
        payload = _get(client, settings, path, {"position": position, "rows": ROWS})
        page = payload[key]
        if key == "sessions":
            page = [session for group in page for session in group["session_lists"]]
        rows.extend(page)
        position += len(page)
        if not page or position >= int(payload["pagination"]["records"]):
            return rows


def crawl(settings: dict[str, str]) -> Crawl:
    """Every event, order, attendee and waiting-list entry the API lists now."""
    headers = {"Authorization": f"Bearer {token(settings)}"}
    result = Crawl()
    with httpx.Client(base_url=settings["SOURCES__EVENTBOOKINGS__BASE_URL"], headers=headers,
                      timeout=30) as client:
        for event in _pages(client, settings, "/events", "events"):
            uuid = event["uuid"]
            result.events.add(uuid)
            result.currency[uuid] = event["currency"]
            for order in _pages(client, settings, f"/events/{uuid}/orders", "orders"):
                result.orders[order["uuid"]] = {**order, "event_uuid": uuid}
            for attendee in _pages(client, settings, f"/events/{uuid}/attendees", "attendees"):
                result.attendees.add((uuid, attendee["uuid"]))
                if attendee["checked_in"] == "true":
                    result.checked_in.add((uuid, attendee["uuid"]))
            for entry in _pages(client, settings, f"/events/{uuid}/waiting_list", "waiting_list"):
                result.waiting.add((uuid, entry["uuid"]))
    return result

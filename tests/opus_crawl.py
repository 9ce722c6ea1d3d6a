"""An independent crawl of the OPUS API, written from the vendor doc with plain httpx.

It shares no code with the OPUS source, so the warehouse can be checked against it.
"""

from __future__ import annotations

from typing import Any

import httpx

PAGE = 37  # an odd page size, unlike the source's, so pagination differs too


def _pages(client: httpx.Client, path: str, key: str, params: dict[str, Any]) -> list[dict]:
    rows: list[dict] = []
    offset = 0
    while True:
        payload = client.get(path, params={**params, "limit": PAGE, "offset": offset}).json()
        if isinstance(payload, list):
            payload = payload[0]
        page = payload[key]
        rows.extend(page)
        offset += len(page)
        if len(page) < int(payload["limit"]):
            return rows


def crawl(base_url: str, api_key: str) -> dict[str, set[tuple[str, ...]]]:
    """Keys of every event, registration and session-attendance row the API lists now."""
    with httpx.Client(base_url=base_url, params={"api_key": api_key}, timeout=30) as client:
        events = _pages(client, "/rest/api/v1/events", "events", {})
        event_ids = {str(e["id"]) for e in events}
        registrations: set[tuple[str, ...]] = set()
        attendance: set[tuple[str, ...]] = set()
        for event_id in event_ids:
            for row in _pages(client, "/rest/api/v1/events/registrants", "registrants", {"event_id": event_id}):
                registrations.add((event_id, str(row["registration_id"])))
            for row in _pages(client, "/rest/api/v1/events/sessionattendance", "attendees", {"event_id": event_id}):
                attendance.add((event_id, str(row["user_id"]), str(row["product_identification"])))
    return {
        "events": {(e,) for e in event_ids},
        "registrations": registrations,
        "attendance": attendance,
    }

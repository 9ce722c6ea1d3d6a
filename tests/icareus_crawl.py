"""An independent fetch of Icareus Suite events, written from the vendor doc.

It signs its own tokens with hashlib and reads each configured event with
plain httpx, sharing no code with the Icareus source or sandbox, so the
warehouse can be checked against it. It also speaks the vendor's create and
edit calls, so tests can drive change through the vendor's own API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


def token(organization_id: int | str, secret: str, client_ip: str, unix_seconds: float | None = None) -> str:
    """8 hex digits of Unix seconds, then MD5('orgId:hexTime:secret:clientIp')."""
    hex_time = format(int(time.time() if unix_seconds is None else unix_seconds), "08x")
    return hex_time + hashlib.md5(":".join((str(organization_id), hex_time, secret, client_ip)).encode()).hexdigest()


def in_language(texts: dict[str, str] | None, language: str) -> str | None:
    if not texts:
        return None
    # Else the first language by its code, as the marts choose on either engine.
    return texts.get(language) or texts.get("en_US") or texts[min(texts)]


def utc_ms(milliseconds: int | None) -> dt.datetime | None:
    return None if milliseconds is None else dt.datetime.fromtimestamp(milliseconds / 1000, dt.UTC)


@dataclass
class Crawl:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # eventId -> event without rooms
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)  # roomId -> room, with its eventId

    def event_row(self, event_id: str) -> tuple:
        """(name, starts_at, ends_at, public_starts_at, public_ends_at) as the marts should read them."""
        event = self.events[event_id]
        return _times_and_name(event, event.get("defaultLanguage") or "en_US")

    def room_row(self, room_id: str) -> tuple:
        room = self.rooms[room_id]
        event = self.events[str(room["eventId"])]
        return (str(room["eventId"]), *_times_and_name(room, event.get("defaultLanguage") or "en_US"))


def _times_and_name(item: dict[str, Any], language: str) -> tuple:
    start, public = utc_ms(item["startTime"]), utc_ms(item.get("startTimePublic"))
    return (
        in_language(item["name"], language),
        start,
        start + dt.timedelta(seconds=item["duration"]),
        public,
        public + dt.timedelta(seconds=item["durationPublic"]) if public else None,
    )


class IcareusApi:
    """The documented calls, each with a freshly signed token."""

    def __init__(self, settings: dict[str, str]) -> None:
        self.organization_id = int(settings["SOURCES__ICAREUS__ORGANIZATION_ID"])
        self._secret = settings["SOURCES__ICAREUS__SECRET"]
        self._client_ip = settings["SOURCES__ICAREUS__CLIENT_IP"]
        self.event_ids = [item for item in settings["SOURCES__ICAREUS__EVENT_IDS"].split(",") if item]
        self.http = httpx.Client(base_url=settings["SOURCES__ICAREUS__BASE_URL"], timeout=30)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(self.organization_id, self._secret, self._client_ip)}"}

    def call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        """One call; the answer's JSON, which must say status ok."""
        if body is not None:
            body = {"organizationId": self.organization_id, **body}
        if method in ("GET", "DELETE"):
            params = {"organizationId": self.organization_id, **(params or {})}
        response = self.http.request(method, path, params=params, json=body, headers=self._headers())
        payload = response.json()
        assert response.status_code == 200 and payload.get("status") == "ok", (response.status_code, payload)
        return payload

    def event(self, event_id: int | str) -> dict[str, Any]:
        return self.call("GET", "/api/event", params={"eventId": event_id})["event"]

    def edit_event(self, event_id: int | str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.call("PUT", "/api/event", body={"eventId": int(event_id), "event": changes})["event"]

    def edit_room(self, room_id: int | str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.call("PUT", "/api/event/room", body={"roomId": int(room_id), "room": changes})["room"]

    def add_room(self, event_id: int | str, room: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/api/event/room", body={"eventId": int(event_id), "room": room})["event"]

    def delete_room(self, room_id: int | str) -> None:
        self.call("DELETE", "/api/event/room", params={"roomId": room_id})

    def crawl(self) -> Crawl:
        """Every configured event with its rooms, as the API serves them now."""
        result = Crawl()
        for event_id in self.event_ids:
            event = dict(self.event(event_id))
            for room in event.pop("rooms", []):
                result.rooms[str(room["roomId"])] = {**room, "eventId": event["eventId"]}
            result.events[str(event["eventId"])] = event
        return result

    def close(self) -> None:
        self.http.close()

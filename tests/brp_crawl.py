"""An independent crawl of the BRP events XML API, written from the vendor doc.

It uses plain httpx and the standard library's ElementTree, and shares no code
with the BRP source or sandbox, so the warehouse can be checked against it.
Local Stockholm times are read back to UTC by the EU daylight saving rule
written out here, not by zoneinfo, so it also checks the sandbox's time zone
arithmetic.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import httpx

# Every event, ended or not, bookable from the internet or not, with its participants.
EVERYTHING = {"startdate": "1970-01-01", "includeparticipants": "true", "bookablefrominternet": "false"}

CET = dt.timedelta(hours=1)
CEST = dt.timedelta(hours=2)


@dataclass
class Crawl:
    events: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> flat fields
    participants: set[tuple[str, str]] = field(default_factory=set)  # (event id, eventbookingid)
    people: dict[str, tuple[str, str]] = field(default_factory=dict)  # personid -> (firstname, lastname)


def _flatten(element: ET.Element, prefix: str, into: dict[str, str]) -> None:
    for child in element:
        name = f"{prefix}{child.tag}"
        if len(child):
            _flatten(child, f"{name}__", into)
        else:
            into[name] = (child.text or "").strip()


def parse(document: bytes) -> Crawl:
    """Read one events document."""
    result = Crawl()
    root = ET.fromstring(document)
    if root.tag != "events":
        raise ValueError(f"expected <events>, got <{root.tag}>")
    for event in root.findall("event"):
        fields: dict[str, str] = {}
        participants = event.find("participants")
        if participants is not None:
            event.remove(participants)
        _flatten(event, "", fields)
        event_id = fields["id"]
        result.events[event_id] = fields
        for participant in [] if participants is None else participants.findall("participant"):
            person = participant.findtext("personid", "").strip()
            result.participants.add((event_id, participant.findtext("eventbookingid", "").strip()))
            result.people[person] = (
                participant.findtext("firstname", "").strip(),
                participant.findtext("lastname", "").strip(),
            )
    return result


def crawl(base_url: str, api_key: str) -> Crawl:
    """Every event the API knows, with its participants, in one request."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        response = client.get("/events.xml", params={"apikey": api_key, **EVERYTHING})
        response.raise_for_status()
        return parse(response.content)


def _last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - 6) % 7)


def summer_time_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants CEST starts and ends: 01:00 UTC on the last Sundays of March and October."""
    one_am = dt.time(1, tzinfo=dt.UTC)
    return (
        dt.datetime.combine(_last_sunday(year, 3), one_am),
        dt.datetime.combine(_last_sunday(year, 10), one_am),
    )


def stockholm_to_utc(local: str) -> dt.datetime:
    """'YYYY-MM-DD HH:MM' Stockholm wall-clock time -> aware UTC datetime.

    The repeated autumn hour takes its first (summer time) reading; a time in
    the hour skipped in spring is read with the winter offset.
    """
    naive = dt.datetime.strptime(local, "%Y-%m-%d %H:%M")
    begins, ends = summer_time_bounds(naive.year)
    as_summer = (naive - CEST).replace(tzinfo=dt.UTC)
    if begins <= as_summer < ends:
        return as_summer
    return (naive - CET).replace(tzinfo=dt.UTC)

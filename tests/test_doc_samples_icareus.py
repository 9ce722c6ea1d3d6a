"""Icareus Suite's own doc samples through the whole graph: served as printed, loaded, read back.

One load of the sample event (tests/doc_samples/icareus.py) as of the morning after it, then
each test asserts one thing the doc means: event 3697601 from 08:00 to 11:30 UTC on
2021-11-26, shown to the public from 08:15, with its main room and the room added to it,
every text in every language it was given, and no registrations (the participant API is
unsupported).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.doc_samples import icareus
from tests.doc_samples.icareus import EVENT_ID, EVENT_PATH, ORGANIZATION_ID
from tests.doc_samples.loading import DocLoad, doc_sample_load
from tests.doc_samples.server import doc_text, printed_in
from tests.readback import query

pytestmark = pytest.mark.e2e

MARTS = ("dim_events", "dim_sessions", "dim_people", "bridge_person_identities", "fct_registrations",
         "fct_session_attendance", "fct_orders", "rpt_event_attendance", "rpt_daily_registrations",
         "rpt_session_attendance")
MAIN_ROOM, ADDED_ROOM = "3697602", "3698301"
MULTILINGUAL = {"name": "name", "publicName": "public_name", "description": "description"}


def utc(hour: int, minute: int) -> dt.datetime:
    """A time on the sample event's day, 2021-11-26."""
    return dt.datetime(2021, 11, 26, hour, minute, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocLoad]:
    """One load of the doc's samples, shared by this module's tests: a load takes most of a minute."""
    with doc_sample_load(tmp_path_factory.mktemp("icareus-doc-samples"), icareus.routes(), icareus.settings,
                         icareus.AS_OF) as loaded:
        yield loaded



def test_each_sample_is_printed_in_the_doc():
    doc = doc_text(icareus.DOC)
    listings = icareus.listing_text(doc)
    for name, sample in icareus.VERBATIM.items():
        assert printed_in(sample, listings), f"the {name} answer is not the doc's text"
        # Only the listing numbers and the no-break spaces differ from the doc, nothing else.
        assert sample in listings, f"the {name} answer differs from the doc by more than its listing"
        assert json.loads(sample)["status"] == "ok"


def test_the_load_reads_the_configured_event_once_without_a_failure_or_failed_check(load):
    assert load.outcome.failures == []
    assert load.outcome.checks_failed == []
    assert load.outcome.loaded_vendors == ["Icareus Suite"]
    reads = [request for request in load.requests if (request.method, request.path) == ("GET", EVENT_PATH)]
    assert [request.query for request in reads] == [
        {"eventId": str(EVENT_ID), "organizationId": str(ORGANIZATION_ID)}]


def test_every_mart_exists_though_icareus_gives_no_registrations(load):
    tables = {name for (name,) in query(
        load.warehouse, "select table_name from information_schema.tables where table_schema = 'marts'")}
    assert set(MARTS) <= tables


def test_the_event_in_utc_with_its_public_times(load):
    rows = query(load.warehouse, """
        select vendor_event_id, name, starts_at, ends_at, public_starts_at, public_ends_at,
               timezone, currency, capacity
        from marts.dim_events where vendor = 'icareus'""")
    # startTime 1637913600000 ms plus duration 12600 s; startTimePublic 1637914500000 ms plus
    # durationPublic 11700 s. Texts in the default language, en_US. Icareus gives no time
    # zone and sells nothing through this API.
    assert rows == [(str(EVENT_ID), "English name", utc(8, 0), utc(11, 30), utc(8, 15), utc(11, 30),
                     None, None, None)]


def test_the_event_is_completed_by_the_calendar(load):
    [(status,)] = query(load.warehouse, "select status from marts.dim_events where vendor = 'icareus'")
    assert status == "completed"


def test_both_rooms_with_titles_and_utc_times(load):
    rows = query(load.warehouse, """
        select s.vendor_session_id, s.title, s.starts_at, s.ends_at, s.public_starts_at, s.public_ends_at
        from marts.dim_sessions s join marts.dim_events e using (event_key)
        where s.vendor = 'icareus' and e.vendor_event_id = '3697601'""")
    # The main room the event was created with has no public time of its own; the added room
    # was given the event's.
    assert sorted(rows) == [
        (MAIN_ROOM, "Main Room", utc(8, 0), utc(11, 30), None, None),
        (ADDED_ROOM, "English room name", utc(8, 0), utc(11, 30), utc(8, 15), utc(11, 30)),
    ]


def test_every_text_in_every_language_it_was_given(load):
    rows = query(load.warehouse, """
        select entity, vendor_event_id, vendor_room_id, field, language, text, is_default_language
        from staging.stg_icareus__translations""")
    assert sorted(rows, key=repr) == sorted(printed_translations(), key=repr)
    languages = {row[4] for row in rows if row[0] == "event" and row[3] == "name"}
    assert languages == {"en_US", "fi_FI", "sv_SE"}


def printed_translations() -> list[tuple[Any, ...]]:
    """Each text the served event prints, one row per language, en_US the default."""
    event = json.loads(icareus.EVENT_ANSWER)["event"]
    owners = [("event", None, event)] + [("room", str(room["roomId"]), room) for room in event["rooms"]]
    return [(entity, str(EVENT_ID), room_id, field, language, text, language == "en_US")
            for entity, room_id, owner in owners
            for key, field in MULTILINGUAL.items()
            for language, text in owner.get(key, {}).items()]


def test_registrations_and_attendance_are_unknown_not_zero(load):
    for fact in ("fct_registrations", "fct_session_attendance", "fct_orders"):
        [(rows,)] = query(load.warehouse, f"select count(*) from marts.{fact} where vendor = 'icareus'")
        assert rows == 0, fact
    [report] = query(load.warehouse, """
        select registrations, cancellations, waitlisted, places_filled, attendees, no_shows,
               minutes_attended, orders, gross_revenue
        from marts.rpt_event_attendance where vendor = 'icareus'""")
    assert report == (None,) * 9

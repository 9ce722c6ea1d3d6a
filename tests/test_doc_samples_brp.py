"""BRP as its doc prints it: the sample `<events>` answer served, one daily load, the marts read back.

BRP publishes Stockholm wall-clock times; the marts hold them in UTC, with
summer time where it applied (CEST, UTC+2, in September; CET, UTC+1, in
January and December).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from lxml import etree

from assets.runner import MARTS
from tests.doc_samples import brp
from tests.doc_samples.loading import DocLoad, doc_sample_load
from tests.doc_samples.server import doc_text, printed_in
from tests.readback import query

pytestmark = pytest.mark.e2e

API_KEY = "doc-sample-api-key"
# The morning after the event's last day (2015-12-31): everything the sample describes has
# happened, and the event is still in the window whose bookings a run reads.
AS_OF = dt.date(2016, 1, 1)
# The first run reads back from here: the day the sample's event was published and last updated.
START_DATE = "2015-01-01"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocLoad]:
    """One load of the doc's sample, shared: each test below reads one thing back from it."""

    def settings(origin: str) -> dict[str, str]:
        return {"SOURCES__BRP__BASE_URL": origin, "SOURCES__BRP__API_KEY": API_KEY,
                "SOURCES__BRP__START_DATE": START_DATE}

    with doc_sample_load(tmp_path_factory.mktemp("brp_doc_samples"), brp.routes(AS_OF), settings,
                         AS_OF.isoformat()) as loaded:
        yield loaded


# --- the sample is the doc's --------------------------------------------------------------


@pytest.mark.parametrize("part", ["EVENTS_XML", "PARTICIPANTS_XML"])
def test_each_part_of_the_sample_is_printed_in_the_doc(part):
    assert printed_in(getattr(brp, part), doc_text(brp.DOC))


@pytest.mark.parametrize("participants", [False, True])
def test_the_sample_is_served_as_well_formed_xml(participants):
    text = brp.with_participants(brp.EVENTS_XML) if participants else brp.EVENTS_XML
    root = etree.fromstring(text.encode())
    assert [event.findtext("id") for event in root.iter("event")] == ["12"]
    assert len(root.findall("event/participants/participant")) == (1 if participants else 0)


# --- the load -----------------------------------------------------------------------------


def test_the_load_succeeds_with_nothing_to_report(load):
    assert load.outcome.failures == []
    assert load.outcome.checks_failed == []
    assert load.outcome.loaded_vendors == ["BRP"]
    assert load.outcome.ok


def test_every_mart_is_built(load):
    built = {name for (name,) in query(load.warehouse, """
        select table_name from information_schema.tables where table_schema = 'marts'""")}
    assert set(MARTS) <= built


def test_nothing_is_rejected(load):
    assert load.outcome.rejected == []
    views = [name for (name,) in query(load.warehouse, """
        select table_name from information_schema.tables where table_schema = 'rejected'""")]
    for view in views:
        rows = query(load.warehouse, f"select rejection_reason from rejected.{view} where vendor = 'brp'")
        assert rows == [], (view, rows)


def test_every_request_carries_the_api_key_and_asks_for_participants(load):
    assert load.requests
    assert {request.path for request in load.requests} <= set(brp.EVENTS_PATHS)
    assert all(request.query.get("apikey") == API_KEY for request in load.requests)
    assert all(request.query.get("includeparticipants") == "true" for request in load.requests)


# --- what the doc means -------------------------------------------------------------------


def test_one_event_with_its_times_in_utc(load):
    assert query(load.warehouse, """
        select vendor_event_id, name, starts_at, ends_at, timezone, capacity, filled, business_unit,
               currency, status
        from marts.dim_events where vendor = 'brp'""") == [
        # 13:45 CEST on its first day; no end time, so it ends at local midnight after its last day.
        ("12", "Swimming for toddlers", utc(2015, 9, 1, 11, 45), utc(2015, 12, 31, 23),
         "Europe/Stockholm", 12, 12, "Main Street Gym", None, "completed"),
    ]


def test_the_event_details_and_local_times_in_utc(load):
    assert query(load.warehouse, """
        select event_code, product_id, product_description, business_unit_id, order_id, occasions,
               updated_at, publish_starts_at, publish_ends_at
        from staging.stg_brp__events""") == [
        ("2015STOD", 575, "Swimming", 11, 105, 60,
         # 2015-01-01 23:00 and 23:10 in Stockholm, winter time.
         utc(2015, 1, 1, 22), utc(2015, 1, 1, 22), utc(2015, 1, 1, 22, 10)),
    ]


def test_the_participant_is_one_registration(load):
    assert query(load.warehouse, """
        select r.vendor_registration_id, e.vendor_event_id, r.registered_at, r.status, r.cancelled_at,
               r.attendance_status
        from marts.fct_registrations r join marts.dim_events e using (event_key)
        where r.vendor = 'brp'""") == [
        # BRP gives no booking time, and records bookings, not who came.
        ("333", "12", None, "registered", None, None),
    ]


def test_the_participant_is_one_person(load):
    assert query(load.warehouse, """
        select identity.vendor_person_id, person.email, person.first_name, person.last_name, person.company
        from marts.bridge_person_identities identity join marts.dim_people person using (person_key)
        where identity.vendor = 'brp'""") == [
        ("123", None, "Homer", "Simpson", None),
    ]


def test_the_event_report(load):
    [report] = query(load.warehouse, """
        select registrations, cancellations, places_filled, fill_rate, attendees, no_shows,
               attendance_rate, minutes_attended, orders, gross_revenue, currency
        from marts.rpt_event_attendance where vendor = 'brp'""")
    registrations, cancellations, filled, fill_rate, *unknown = report
    # One booking listed; the event's own count says all 12 places are taken.
    assert (registrations, cancellations, filled, fill_rate) == (1, 0, 12, 1.0)
    # BRP records no attendance and sells nothing through this API: unknown, not zero.
    assert unknown == [None] * 7

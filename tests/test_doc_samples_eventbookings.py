"""EventBookings' own doc samples through the whole graph: served as printed, loaded, read back.

One load of the samples (tests/doc_samples/eventbookings.py) as of the day before the sample
event, then each test asserts one thing the doc means. The doc lists two events: "Venue Event"
in full and a second one as its uuid alone; its sessions answer prints two sessions as empty
objects; the Venue Event's three ticket levels carry its prices; it has no attendees, orders
or waiting list yet.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.doc_samples import eventbookings
from tests.doc_samples.eventbookings import API_PREFIX, BARE_EVENT, EVENT_LISTS, TOKEN_PATH, VENUE_EVENT
from tests.doc_samples.loading import DocLoad, doc_sample_load
from tests.doc_samples.server import doc_text, printed_in
from tests.readback import query

pytestmark = pytest.mark.e2e

MARTS = ("dim_events", "dim_sessions", "dim_people", "bridge_person_identities", "fct_registrations",
         "fct_session_attendance", "fct_orders", "rpt_event_attendance", "rpt_daily_registrations",
         "rpt_session_attendance")
REJECTED_VIEWS = ("dim_events", "dim_sessions", "fct_registrations", "fct_session_attendance", "fct_orders")
# `attending_on` of the Venue Event: start and end both print "utc": "2024-06-09 23:00".
VENUE_EVENT_UTC = dt.datetime(2024, 6, 9, 23, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocLoad]:
    """One load of the doc's samples, shared by this module's tests: a load takes most of a minute."""
    with doc_sample_load(tmp_path_factory.mktemp("eventbookings-doc-samples"), eventbookings.routes(),
                         eventbookings.settings, eventbookings.AS_OF) as loaded:
        yield loaded



def test_each_sample_is_printed_in_the_doc():
    doc = doc_text(eventbookings.DOC)
    for name, sample in eventbookings.VERBATIM.items():
        assert printed_in(sample, doc), f"the {name} sample is not the doc's text"
        json.loads(sample)  # served as printed, so it must be JSON as printed


def test_the_ticket_levels_served_are_the_three_the_venue_event_prints():
    answer = json.loads(eventbookings.event_list_answers(VENUE_EVENT)["tickets"])
    names = [level["name"] for level in answer["tickets"]]
    assert names == ["Single Ticket WITHOUT Variation", "This is a donation ticket", "Group Ticket with variation"]


def test_the_load_reads_every_list_of_both_events_with_one_token_and_no_failure(load):
    assert load.outcome.failures == []
    assert load.outcome.loaded_vendors == ["EventBookings"]
    asked = Counter((request.method, request.path) for request in load.requests)
    # The doc: reuse the token until it expires (an hour), so one is enough for one load.
    assert asked[("POST", TOKEN_PATH)] == 1
    lists = {("GET", API_PREFIX + path.format(uuid=event)) for event in (VENUE_EVENT, BARE_EVENT)
             for path in EVENT_LISTS.values()}
    assert {("GET", f"{API_PREFIX}/events")} | lists <= set(asked)


def test_only_the_rows_that_break_the_contract_fail_checks(load):
    # The second event has no start time and the two sessions no id (tests below): the `no_rows`
    # checks of rejected.dim_events and rejected.dim_sessions fail, and no other check.
    failed_views = set()
    for check in load.outcome.checks_failed:
        asset, _, name = check.partition(": ")
        assert asset.startswith("rejected/") and name.startswith("no_rows"), check
        failed_views.add(asset.split("/")[-1].removeprefix("rejected_"))
    assert failed_views == {"dim_events", "dim_sessions"}, load.outcome.checks_failed


def test_every_mart_exists_though_nothing_was_booked(load):
    tables = {(schema, name) for schema, name in query(
        load.warehouse, "select table_schema, table_name from information_schema.tables")}
    assert {("marts", mart) for mart in MARTS} <= tables
    assert {("rejected", view) for view in REJECTED_VIEWS} <= tables


def test_the_venue_event_in_utc_without_a_time_zone_currency_or_capacity(load):
    rows = query(load.warehouse, """
        select vendor_event_id, name, starts_at, ends_at, timezone, currency, capacity
        from marts.dim_events where vendor = 'eventbookings'""")
    # "timezone": "" and "currency": "" are unset, not errors; "event_capacity": 0 sets none
    # (its ticket levels alone offer 150 places).
    assert rows == [(VENUE_EVENT, "Venue Event", VENUE_EVENT_UTC, VENUE_EVENT_UTC, None, None, None)]


def test_the_venue_event_is_not_cancelled_and_its_status_follows_the_calendar(load):
    # `status` "active" and `extended_status` cancelled "false": not cancelled, so the calendar
    # decides, judged at the end of the business date (2024-06-09 00:00 UTC), before its end.
    [(status,)] = query(load.warehouse, f"""
        select status from marts.dim_events where vendor = 'eventbookings' and vendor_event_id = '{VENUE_EVENT}'""")
    assert status == "scheduled"


def test_the_event_printed_as_a_uuid_alone_is_rejected_for_its_missing_start(load):
    [(raw_events,)] = query(load.warehouse, "select count(*) from raw_eventbookings.events")
    assert raw_events == 2
    rejected = query(load.warehouse, """
        select vendor_event_id, rejection_reason from rejected.dim_events where vendor = 'eventbookings'""")
    assert [event for event, _ in rejected] == [BARE_EVENT]
    assert "starts_at" in rejected[0][1]


def test_the_sessions_printed_as_empty_objects_land_and_are_rejected_for_their_missing_id(load):
    landed = query(load.warehouse, f"""
        select session_type from staging.stg_eventbookings__sessions where vendor_event_id = '{VENUE_EVENT}'""")
    assert landed == [("multiple-choice",), ("multiple-choice",)]
    [(published,)] = query(load.warehouse, "select count(*) from marts.dim_sessions where vendor = 'eventbookings'")
    assert published == 0
    rejected = query(load.warehouse, """
        select vendor_event_id, vendor_session_id, title, starts_at, rejection_reason
        from rejected.dim_sessions where vendor = 'eventbookings'""")
    assert [row[:4] for row in rejected] == [(VENUE_EVENT, None, None, None)] * 2
    assert all("vendor_session_id" in row[4] for row in rejected), rejected


def test_ticket_levels_as_printed(load):
    tickets = query(load.warehouse, f"""
        select ticket_name, category, quantity, quantity_sold
        from staging.int_eventbookings__tickets where vendor_event_id = '{VENUE_EVENT}'""")
    assert Counter(tickets) == Counter([
        ("Single Ticket WITHOUT Variation", "ticket", 50, 30),
        ("This is a donation ticket", "donation", 50, 30),
        ("Group Ticket with variation", "ticket", 50, 20),
    ])


def test_ticket_prices_to_the_cent_without_a_currency(load):
    prices = query(load.warehouse, f"""
        select variation, price, typeof(price), currency, places_per_ticket, quantity_sold
        from staging.int_eventbookings__ticket_prices where vendor_event_id = '{VENUE_EVENT}'""")
    # "$30.0", "$300.00" and "$100.00"; the donation ticket has no price. The "$" names no
    # currency and the event's is "": NULL.
    assert Counter(prices) == Counter([
        (None, Decimal("30.00"), "DECIMAL(18,2)", None, 1, 30),
        (None, None, "DECIMAL(18,2)", None, 1, 30),
        ("var 1", Decimal("300.00"), "DECIMAL(18,2)", None, 5, 0),
        ("var 2", Decimal("100.00"), "DECIMAL(18,2)", None, 5, 0),
    ])


def test_no_registrations_orders_or_waiting_list_yet(load):
    for fact in ("fct_registrations", "fct_orders"):
        [(rows,)] = query(load.warehouse, f"select count(*) from marts.{fact} where vendor = 'eventbookings'")
        assert rows == 0, fact
    [report] = query(load.warehouse, f"""
        select registrations, cancellations, waitlisted, orders, gross_revenue, refunded_revenue, net_revenue,
               currency, minutes_attended
        from marts.rpt_event_attendance where vendor = 'eventbookings' and vendor_event_id = '{VENUE_EVENT}'""")
    # EventBookings sells tickets and keeps waiting lists: none yet is 0, not unknown. It
    # records no time attended, so minutes stay NULL.
    zero = Decimal("0.00")
    assert report == (0, 0, 0, 0, zero, zero, zero, None, None)

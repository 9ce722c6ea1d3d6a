"""EventBookings through the whole graph beside OPUS: sandbox → dlt → DuckDB → dbt marts.

The warehouse is compared with an independent crawl of the API by count and
key, and to the cent for money, on day 0 and after an advanced day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import httpx
import pytest

from assets.runner import run_daily_load
from sandboxes.eventbookings import EventBookingsSandbox
from sandboxes.opus import OpusSandbox
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.eventbookings_crawl import Crawl, amount, crawl
from tests.readback import event_log, query
from tests.settings import isolate

pytestmark = pytest.mark.e2e

WRONG_SECRET = "wrong-secret-Hq27vL"


def _load(warehouse: Path, server: SandboxServer, instance: dg.DagsterInstance):
    outcome = run_daily_load(warehouse, as_of=server.app.today.isoformat(), instance=instance)
    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    assert "EventBookings" in outcome.loaded_vendors and "OPUS DX" in outcome.loaded_vendors
    return outcome


@pytest.fixture(scope="module")
def day_zero(tmp_path_factory):
    """OPUS and EventBookings loaded once, on day 0, for the tests that only read the result:
    (the EventBookings sandbox, the warehouse)."""
    root = tmp_path_factory.mktemp("day_zero")
    with pytest.MonkeyPatch.context() as patch, \
            SandboxServer(OpusSandbox(seed=7, scale="small", start_date=SANDBOX_START)) as opus, \
            SandboxServer(EventBookingsSandbox(seed=7, scale="small", start_date=SANDBOX_START)) as server:
        isolate(patch, root)
        for name, value in {**opus.app.settings(opus.base_url), **server.app.settings(server.base_url)}.items():
            patch.setenv(name, value)
        warehouse = root / "turnout.duckdb"
        # The instance is closed before the tests run: an instance a module fixture holds open
        # would outlive the tests' own and leave Dagster's current-instance state pointing at one
        # already gone, for whichever module the worker runs next.
        with dg.instance_for_test() as instance:
            _load(warehouse, server, instance)
        yield server, warehouse


def _advance(*servers: SandboxServer) -> None:
    for server in servers:
        httpx.post(f"{server.base_url}/_sandbox/advance", params={"days": 1}).raise_for_status()


def _assert_matches_api(warehouse: Path, api: Crawl) -> None:
    events = {row[0] for row in query(
        warehouse, "select vendor_event_id from marts.dim_events where vendor = 'eventbookings'")}
    assert events == api.events

    registered = set(query(warehouse, """
        select e.vendor_event_id, r.vendor_registration_id
        from marts.fct_registrations r join marts.dim_events e using (event_key)
        where r.vendor = 'eventbookings' and r.status = 'registered'"""))
    assert registered == api.attendees
    waiting = set(query(warehouse, """
        select e.vendor_event_id, r.vendor_registration_id
        from marts.fct_registrations r join marts.dim_events e using (event_key)
        where r.vendor = 'eventbookings' and r.status = 'waitlisted'"""))
    assert waiting == api.waiting and waiting, "people on waiting lists are waitlisted registrations"
    reported = dict(query(warehouse, "select vendor_event_id, waitlisted from marts.rpt_event_attendance "
                                     "where vendor = 'eventbookings'"))
    assert reported == {event: sum(1 for e, _ in api.waiting if e == event) for event in api.events}

    orders = {vendor_order_id: (status, gross, currency) for vendor_order_id, status, gross, currency in query(
        warehouse, "select vendor_order_id, status, gross_amount, currency from marts.fct_orders "
                   "where vendor = 'eventbookings'")}
    assert set(orders) == set(api.orders)
    for uuid, order in api.orders.items():
        status, gross, currency = orders[uuid]
        assert status == order["status"]
        assert gross == amount(order["total"])  # DECIMAL(18,2) equals the vendor's string to the cent
        assert currency == api.currency[order["event_uuid"]]
    [(total,)] = query(warehouse, "select sum(gross_amount) from marts.fct_orders where vendor = 'eventbookings'")
    assert total == sum(api.order_totals().values(), Decimal("0"))

    paid = sum((amount(o["total"]) for o in api.orders.values() if o["status"] != "cancelled"), Decimal("0"))
    refunded = sum((amount(o["refunded_amount"]) for o in api.orders.values()), Decimal("0"))
    [(gross_revenue, refunded_revenue, order_count)] = query(warehouse, """
        select sum(gross_revenue), sum(refunded_revenue), sum(orders)
        from marts.rpt_event_attendance where vendor = 'eventbookings'""")
    assert (gross_revenue, refunded_revenue) == (paid, refunded)
    assert order_count == sum(1 for o in api.orders.values() if o["status"] != "cancelled")

    checked_in = set(query(warehouse, """
        select vendor_event_id, vendor_attendee_id from staging.stg_eventbookings__attendees
        where checked_in and status = 'registered'"""))
    assert checked_in == api.checked_in


def test_warehouse_matches_the_api_across_days(opus_configured, eventbookings_configured, warehouse, instance):
    server = eventbookings_configured
    settings = server.app.settings(server.base_url)
    _load(warehouse, server, instance)
    day0 = crawl(settings)
    _assert_matches_api(warehouse, day0)
    assert day0.orders and day0.checked_in

    _advance(opus_configured, server)
    _load(warehouse, server, instance)
    day1 = crawl(settings)
    _assert_matches_api(warehouse, day1)

    # Tickets the vendor stopped listing (refunds) are kept as cancelled registrations.
    vanished = day0.attendees - day1.attendees
    assert vanished
    cancelled = set(query(warehouse, """
        select e.vendor_event_id, r.vendor_registration_id
        from marts.fct_registrations r join marts.dim_events e using (event_key)
        where r.vendor = 'eventbookings' and r.status = 'cancelled'"""))
    assert cancelled == vanished
    assert {o["uuid"] for o in day1.orders.values() if o["status"] in ("refunded", "partially_refunded")}


def test_dates_are_utc_from_the_utc_half_and_the_time_zone_is_kept(day_zero):
    server, warehouse = day_zero
    token = httpx.post(server.app.settings(server.base_url)["SOURCES__EVENTBOOKINGS__TOKEN_URL"], data={
        "client_id": server.app.settings("")["SOURCES__EVENTBOOKINGS__CLIENT_ID"],
        "client_secret": server.app.settings("")["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"],
        "grant_type": "client_credentials"}).json()["access_token"]
    listed = httpx.get(f"{server.base_url}/api/events", params={"rows": 100},
                       headers={"Authorization": f"Bearer {token}"}).json()["events"]
    stored = {uuid: (starts, ends, timezone) for uuid, starts, ends, timezone in query(
        warehouse, "select vendor_event_id, starts_at, ends_at, timezone from marts.dim_events "
                   "where vendor = 'eventbookings'")}
    for event in listed:
        start, end = event["attending_on"][0], event["attending_on"][-1]
        expected_start = dt.datetime.strptime(start["utc"], "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        expected_end = dt.datetime.strptime(end["utc"], "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        starts, ends, timezone = stored[event["uuid"]]
        assert (starts, ends, timezone) == (expected_start, expected_end, event["timezone"])


def test_a_person_in_both_vendors_is_one_person(day_zero):
    _, warehouse = day_zero
    shared = query(warehouse, """
        select p.email, count(distinct i.vendor)
        from marts.dim_people p
        join staging.int_people i using (person_key)
        group by p.email
        having count(distinct i.vendor) = 2""")
    assert shared, "the sandboxes share people: some e-mails must be in both vendors"
    [(people, emails)] = query(warehouse, "select count(*), count(distinct email) from marts.dim_people")
    assert people == emails
    # Their registrations at both vendors point at the same person.
    [(vendors,)] = query(warehouse, """
        select max(vendors) from (
            select person_key, count(distinct vendor) as vendors from marts.fct_registrations group by person_key)""")
    assert vendors == 2


def test_vendors_without_orders_or_minutes_report_null_not_zero(day_zero):
    _, warehouse = day_zero
    rows = dict(query(warehouse, """
        select vendor, bool_and(orders is null) from marts.rpt_event_attendance group by vendor"""))
    assert rows == {"opus": True, "eventbookings": False}
    [(minutes_unknown,)] = query(warehouse, """
        select bool_and(minutes_attended is null) from marts.rpt_event_attendance
        where vendor = 'eventbookings'""")
    assert minutes_unknown


def test_a_wrong_secret_fails_the_load_naming_eventbookings_and_never_leaks(
    eventbookings_server, warehouse, instance, monkeypatch
):
    for name, value in eventbookings_server.app.settings(eventbookings_server.base_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__CLIENT_SECRET", WRONG_SECRET)

    outcome = run_daily_load(warehouse, instance=instance)

    assert not outcome.ok
    failure = " ".join(outcome.failures)
    assert "EventBookings POST /connect/token: client credentials rejected" in failure
    [run] = instance.get_runs()
    event_log = "\n".join(repr(entry) for entry in instance.all_logs(run.run_id))
    assert "client credentials rejected" in event_log
    assert WRONG_SECRET not in failure + event_log


def test_the_secret_and_tokens_stay_out_of_everything_a_run_writes(
    eventbookings_configured, warehouse, instance, tmp_path
):
    app = eventbookings_configured.app
    secret = app.settings("")["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"]
    outcome = run_daily_load(warehouse, as_of=app.today.isoformat(), instance=instance)
    assert outcome.ok, outcome.failures
    roots = (tmp_path, Path(instance.root_directory))
    written = [path for root in roots for path in root.rglob("*") if path.is_file()]
    assert any(path.suffix == ".duckdb" for path in written)
    [access_token] = app.recent_tokens
    for path in written:
        content = path.read_bytes()
        assert secret.encode() not in content and access_token.encode() not in content, path
    logged = event_log(instance)
    assert secret not in logged and access_token not in logged

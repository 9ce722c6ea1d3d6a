"""OPUS DX as its doc prints it: every sample response served, one daily load, the marts read back.

The doc contradicts itself: its attendance names sessions SES104 and SES100, its
sessions sample identifies them as 105 and 103. Turnout lands what it can (the
attendance, attached to the event), reports the rows it could not attach to a
session, and builds every mart all the same.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal

import duckdb
import pytest

from assets.failing_rows import failing_rows
from assets.runner import MARTS
from assets.transform import dbt_project, ensure_manifest
from tests.doc_samples import opus
from tests.doc_samples.loading import DocLoad, doc_sample_load
from tests.doc_samples.server import Request, doc_text, printed_in
from tests.readback import query

pytestmark = pytest.mark.e2e

API_KEY = "doc-sample-api-key"
# The first morning after the latest moment the samples describe: the registration at
# 2020-04-29 17:23:04. The event (2019-10-11) is long over, so its attendance is final.
AS_OF = "2020-04-30"
# The lists the design extracts from OPUS, each asked for per event but the events list.
EXTRACTED_PATHS = (
    opus.EVENTS_PATH, opus.SESSIONS_PATH, opus.REGISTRANTS_PATH, opus.ATTENDEES_PATH,
    opus.SESSION_ATTENDANCE_PATH, opus.SPEAKERS_PATH, opus.PACKAGES_PATH, opus.SESSION_ITINERARIES_PATH,
    opus.SESSION_ON_DEMAND_PATH,
)
SECONDS_ATTENDED = 24991  # every attendance row of the sample: "06h 56m 31s"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)



@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocLoad]:
    """One load of the doc's samples, shared: each test below reads one thing back from it."""

    def settings(origin: str) -> dict[str, str]:
        return {"SOURCES__OPUS__BASE_URL": origin, "SOURCES__OPUS__API_KEY": API_KEY}

    with doc_sample_load(tmp_path_factory.mktemp("opus_doc_samples"), opus.routes(), settings, AS_OF) as loaded:
        yield loaded


# --- the samples are the doc's ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(opus.SAMPLES))
def test_every_page_of_each_sample_is_printed_in_the_doc(name):
    doc = doc_text(opus.DOC)
    for number, page in enumerate(opus.SAMPLES[name].pages, start=1):
        assert printed_in(page, doc), f"page {number} of the {name} sample is not printed in the doc"


@pytest.mark.parametrize("name", sorted(opus.SAMPLES))
def test_each_sample_is_served_as_valid_json(name):
    json.loads(opus.SAMPLES[name].text())


def test_the_doc_names_attended_sessions_that_its_sessions_sample_does_not_have():
    identifications = {row["identification"] for row in opus.items_of(opus.SESSIONS.payload(), "sessions")}
    attended = {row["product_identification"]
                for row in opus.items_of(opus.SESSION_ATTENDANCE.payload(), "attendees")}
    assert identifications == {"105", "103"}
    assert attended == {"SES104", "SES100"}


def ask(path: str, **query: str) -> str:
    return opus.routes()[("GET", path)](Request("GET", path, {"api_key": API_KEY, **query}, {}, b"")).body


def test_a_page_covering_the_sample_is_served_as_printed():
    assert ask(opus.SESSIONS_PATH, event_id=opus.EVENT_ID, limit="500", offset="0") == opus.SESSIONS.text()


def test_other_pages_follow_limit_and_offset():
    page = json.loads(ask(opus.SESSIONS_PATH, event_id=opus.EVENT_ID, limit="1", offset="1"))
    assert [session["id"] for session in page["sessions"]] == ["1966"]
    assert (page["total records"], page["limit"], page["offset"]) == (2, 1, 1)
    other_event = json.loads(ask(opus.SESSIONS_PATH, event_id="22"))
    assert (other_event["sessions"], other_event["total records"]) == ([], 0)


# --- the load -----------------------------------------------------------------------------


def test_the_load_has_no_step_failures(load):
    assert load.outcome.failures == []
    assert load.outcome.loaded_vendors == ["OPUS DX"]


def test_the_load_reports_only_the_attendance_it_could_not_attach_to_a_session(load):
    failed = load.outcome.checks_failed
    assert failed, "the attendance rows naming sessions SES104/SES100 are not reported"
    assert all("session_attendance" in check for check in failed), failed
    # The summary names the vendor and the rows by their ids: the sessions the doc's
    # attendance sample names and its sessions sample does not.
    [unattached] = [check for check in failed if "not_null" in check and "vendor_session_id" in check]
    assert "column vendor_session_id: opus: 3 rows" in unattached, unattached
    assert "session_identification=SES100" in unattached and "session_identification=SES104" in unattached


def test_every_mart_is_built(load):
    built = {name for (name,) in query(load.warehouse, """
        select table_name from information_schema.tables where table_schema = 'marts'""")}
    assert set(MARTS) <= built


def test_empty_lists_still_land_as_tables(load):
    for table in ("speakers", "packages", "attendees", "session_itineraries", "session_on_demand"):
        [(rows,)] = query(load.warehouse, f"select count(*) from raw_opus.{table}")
        assert rows == 0, table


def test_nothing_is_rejected(load):
    assert load.outcome.rejected == []
    views = [name for (name,) in query(load.warehouse, """
        select table_name from information_schema.tables where table_schema = 'rejected'""")]
    for view in views:
        rows = query(load.warehouse, f"select rejection_reason from rejected.{view} where vendor = 'opus'")
        assert rows == [], (view, rows)


def test_every_list_is_asked_for_with_the_api_key(load):
    assert {request.path for request in load.requests} >= set(EXTRACTED_PATHS)
    assert all(request.query.get("api_key") == API_KEY for request in load.requests)
    per_event = [request for request in load.requests if request.path != opus.EVENTS_PATH]
    assert {request.query.get("event_id") for request in per_event} == {opus.EVENT_ID}


# --- what the doc means -------------------------------------------------------------------


def test_one_event_with_its_name_and_utc_times(load):
    assert query(load.warehouse, """
        select vendor_event_id, name, starts_at, ends_at, timezone, capacity, currency, status
        from marts.dim_events where vendor = 'opus'""") == [
        # The template's blank timezone is no time zone, not a zone named "".
        (opus.EVENT_ID, "Sample Event Name", utc(2019, 10, 11, 8, 30), utc(2019, 10, 11, 11, 45),
         None, None, None, "completed"),
    ]


def test_two_sessions_with_their_titles_and_utc_times(load):
    assert query(load.warehouse, """
        select e.vendor_event_id, s.vendor_session_id, s.title, s.starts_at, s.ends_at
        from marts.dim_sessions s join marts.dim_events e using (event_key)
        where s.vendor = 'opus' order by s.vendor_session_id""") == [
        (opus.EVENT_ID, "1961", "Product 1", utc(2019, 10, 11, 8, 30), utc(2019, 10, 11, 10)),
        (opus.EVENT_ID, "1966", "Product 2", utc(2019, 10, 11, 10, 15), utc(2019, 10, 11, 11, 45)),
    ]


def test_session_prices_land_to_the_cent(load):
    # The doc gives no currency, and OPUS sells nothing through this API: no order, no revenue.
    prices = query(load.warehouse, """
        select s.id, p.type, p.price, p.group_name
        from raw_opus.sessions__prices p join raw_opus.sessions s on p._dlt_parent_id = s._dlt_id
        order by s.id, p.type""")
    assert [(session, kind, Decimal(price), group) for session, kind, price, group in prices] == [
        ("1961", "member", Decimal("20.00"), "Members"),
        ("1961", "normal", Decimal("40.00"), ""),
    ]
    assert query(load.warehouse, "select count(*) from marts.fct_orders where vendor = 'opus'") == [(0,)]


def test_one_registration_registered_at_its_utc_time(load):
    assert query(load.warehouse, """
        select r.vendor_registration_id, e.vendor_event_id, p.email, r.registered_at, r.status,
               r.cancelled_at, r.attendance_status
        from marts.fct_registrations r
        join marts.dim_events e using (event_key)
        join marts.dim_people p using (person_key)
        where r.vendor = 'opus'""") == [
        # The registrant is not among the sample's attendees, and the event is over.
        ("56789", opus.EVENT_ID, "test@example.com", utc(2020, 4, 29, 17, 23, 4), "registered", None,
         "no_show"),
    ]


def test_everyone_named_is_one_person_with_their_details_as_printed(load):
    assert query(load.warehouse, """
        select email, first_name, last_name, company, job_title from marts.dim_people order by email""") == [
        ("test@example.com", "Patrick", "Test Last Name", None, None),
        ("testuser1@digitellinc.com", "Test User 1", "Test User 2", "Test Company", None),
        ("testuser2@digitellinc.com", "Test User 2", "Test User 2", "Sample Company", None),
    ]


def test_the_attendance_sample_lands_raw_as_printed(load):
    assert query(load.warehouse, """
        select event_id, user_id, product_identification, product_title, total_seconds
        from raw_opus.session_attendance where _dlt_valid_to is null
        order by user_id, product_identification""") == [
        (opus.EVENT_ID, "1", "SES100", "Test Session 2", str(SECONDS_ATTENDED)),
        (opus.EVENT_ID, "1", "SES104", "Test Session 1", str(SECONDS_ATTENDED)),
        (opus.EVENT_ID, "2", "SES104", "Test Session 1", str(SECONDS_ATTENDED)),
    ]


def test_attendance_is_attached_to_the_event_not_to_a_session(load):
    rows = query(load.warehouse, """
        select p.email, e.vendor_event_id, a.session_key, a.seconds_attended, a.attended,
               a.attention_checks_passed, a.attention_checks_issued, a.attention_checks_required
        from marts.fct_session_attendance a
        join marts.dim_events e using (event_key)
        join marts.dim_people p using (person_key)
        where a.vendor = 'opus'""")
    attached = (opus.EVENT_ID, None, SECONDS_ATTENDED, True, 0, 30, 0)
    assert sorted(rows) == [
        ("testuser1@digitellinc.com", *attached),
        ("testuser1@digitellinc.com", *attached),
        ("testuser2@digitellinc.com", *attached),
    ]


def test_the_event_report(load):
    [report] = query(load.warehouse, """
        select registrations, cancellations, attendees, no_shows, minutes_attended, capacity,
               orders, gross_revenue, net_revenue, currency
        from marts.rpt_event_attendance where vendor = 'opus'""")
    *counts, minutes, capacity, orders, gross, net, currency = report
    assert counts == [1, 0, 2, 1]
    assert float(minutes) == pytest.approx(3 * SECONDS_ATTENDED / 60)
    # Figures the doc cannot give are unknown, not zero.
    assert (capacity, orders, gross, net, currency) == (None, None, None, None, None)


def test_a_failed_test_that_returns_only_values_is_named_by_its_rows(load, tmp_path):
    # A relationships test returns only the orphan value; the summary joins it back to
    # the model's rows to name them. Registrations pointed at an event OPUS never listed:
    changed = tmp_path / "warehouse.duckdb"
    shutil.copy(load.warehouse, changed)
    with duckdb.connect(str(changed)) as con:
        con.execute("update raw_opus.registrants set event_id = 999")
    manifest = json.loads(ensure_manifest(dbt_project()).read_text())
    [test_id] = [node_id for node_id, node in manifest["nodes"].items()
                 if node["name"].startswith("relationships_stg_opus__registrations_vendor_event_id")]
    registrations = query(changed, "select vendor_registration_id from staging.stg_opus__registrations order by 1")

    with duckdb.connect(str(changed), read_only=True) as con:
        named = failing_rows(con, manifest, test_id)

    [(registration,)] = registrations  # the doc prints one registrant
    assert named.startswith(f"column vendor_event_id: opus: 1 row (vendor_event_id=999, vendor_registration_id={registration},"), named

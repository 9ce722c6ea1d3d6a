"""One vendor's surprise never takes the others' data down with it.

EventBookings' own doc sample lists an event as its uuid alone: no start time. Beside
the OPUS sandbox, `turnout run` still builds every mart for both vendors, keeps that
event (and its sessions) out of the marts in `rejected.*` with the reason, names it
in the summary and exits 1.
"""

from __future__ import annotations

import pytest

from assets.cli import main
from assets.runner import MARTS
from tests.doc_samples import eventbookings
from tests.doc_samples.eventbookings import BARE_EVENT, VENUE_EVENT
from tests.doc_samples.server import DocSampleServer
from tests.readback import query

pytestmark = pytest.mark.e2e


@pytest.fixture
def eventbookings_doc_samples(monkeypatch):
    with DocSampleServer(eventbookings.routes()) as server:
        for name, value in eventbookings.settings(server.origin).items():
            monkeypatch.setenv(name, value)
        yield server


def test_an_event_without_a_start_is_rejected_and_every_vendor_still_reaches_the_marts(
    opus_configured, eventbookings_doc_samples, warehouse, monkeypatch, capsys
):
    monkeypatch.setenv("DAGSTER_HOME", str(warehouse.parent / "dagster_home"))

    exit_code = main(["run", "--warehouse", str(warehouse), "--as-of", opus_configured.app.today.isoformat()])

    out = capsys.readouterr().out
    assert exit_code == 1
    # No load failed: the run fails on the rejected rows' checks alone.
    assert "failed: " not in out
    assert "failed check rejected/rejected_dim_events: no_rows_rejected_dim_events" in out
    assert (f"kept out of the marts: rejected.dim_events: eventbookings: 1 row, starts_at is empty "
            f"(vendor_event_id: {BARE_EVENT})") in out

    # Every mart was rebuilt, for both vendors.
    tables = {name for (name,) in query(warehouse, "select table_name from information_schema.tables "
                                                   "where table_schema = 'marts'")}
    assert set(MARTS) <= tables
    opus_events = set(opus_configured.app.event_ids())
    events = query(warehouse, "select vendor, vendor_event_id from marts.dim_events")
    assert {event_id for vendor, event_id in events if vendor == "opus"} == opus_events
    assert [event_id for vendor, event_id in events if vendor == "eventbookings"] == [VENUE_EVENT]
    [(opus_registrations,)] = query(warehouse, "select count(*) from marts.fct_registrations where vendor = 'opus'")
    assert opus_registrations > 0
    [(reports,)] = query(warehouse, "select count(*) from marts.rpt_event_attendance")
    assert reports == len(opus_events) + 1

    # The rejected event is where an analyst can see it, with its reason; so are its sessions.
    assert query(warehouse, "select vendor, vendor_event_id, rejection_reason from rejected.dim_events") == [
        ("eventbookings", BARE_EVENT, "starts_at is empty")]
    [(raw_events,)] = query(warehouse, "select count(*) from raw_eventbookings.events")
    assert raw_events == 2

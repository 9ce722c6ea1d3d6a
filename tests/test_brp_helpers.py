"""BRP pieces that need no server: date windows, Stockholm times, error documents."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from pipelines.brp import helpers

UTC = dt.UTC


def _answers(request: dict[str, str], start: dt.date, end: dt.date) -> bool:
    """Whether an event with these dates answers a request, read from the vendor doc's filter table."""
    keep = True
    if "ongoingdate" in request:
        keep &= start <= dt.date.fromisoformat(request["ongoingdate"]) <= end
    if "startdate" in request:
        keep &= start >= dt.date.fromisoformat(request["startdate"])
    if "enddate" in request:
        keep &= end <= dt.date.fromisoformat(request["enddate"])
    return keep


@pytest.mark.parametrize("window_days", [1, 7, 31, 400])
def test_date_windows_return_every_event_that_ends_on_or_after_the_first_day(window_days: int) -> None:
    rng = random.Random(window_days)
    first, last = dt.date(2026, 1, 10), dt.date(2026, 6, 1)
    events = []
    for _ in range(3000):
        start = first + dt.timedelta(days=rng.randint(-200, 300))
        # Mostly one-day classes, some courses running for months.
        end = start + dt.timedelta(days=rng.choice([0, 0, 0, 1, 6, 35, 90, 180]))
        events.append((start, end))
    requests = list(helpers.date_windows(first, last, window_days))

    answered = {event for event in events if any(_answers(request, *event) for request in requests)}

    assert answered == {event for event in events if event[1] >= first}
    # Every closed window asks by start and end date; only the last is open-ended.
    assert requests[-1] == {"startdate": last.isoformat()}


def test_date_windows_stay_within_the_window_size() -> None:
    requests = list(helpers.date_windows(dt.date(2026, 1, 1), dt.date(2026, 3, 1), 31))
    closed = [r for r in requests if "enddate" in r]
    assert [(r["startdate"], r["enddate"]) for r in closed] == [
        ("2026-01-01", "2026-01-31"), ("2026-02-01", "2026-02-28")]


@pytest.mark.parametrize(("local", "utc"), [
    ("2026-03-29 01:59", dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),   # winter time, last minute
    ("2026-03-29 03:00", dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),    # summer time, first minute
    ("2026-03-29 02:30", dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),   # skipped: read as winter time
    ("2026-10-25 01:59", dt.datetime(2026, 10, 24, 23, 59, tzinfo=UTC)),
    ("2026-10-25 02:30", dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # repeated: the first (summer) one
    ("2026-10-25 03:00", dt.datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ("2026-07-01 12:00", dt.datetime(2026, 7, 1, 10, 0, tzinfo=UTC)),
    ("2026-12-01 12:00", dt.datetime(2026, 12, 1, 11, 0, tzinfo=UTC)),
    ("2026-12-01", dt.datetime(2026, 11, 30, 23, 0, tzinfo=UTC)),
])
def test_stockholm_wall_clock_to_utc_across_daylight_saving(local: str, utc: dt.datetime) -> None:
    assert helpers.local_to_utc(local) == utc


@pytest.mark.parametrize("text", [None, "", "  ", "2026-13-01 10:00", "yesterday"])
def test_unreadable_local_times_are_none(text: str | None) -> None:
    assert helpers.local_to_utc(text) is None


def test_a_timepoint_timestamp_wins_over_its_local_reading() -> None:
    # 02:30 on the autumn change happens twice; only the timestamp says which.
    second_reading = int(dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC).timestamp())
    event = {
        "startdate": "2026-10-25", "enddate": "2026-10-25", "time": "02:30", "lastupdate": "2026-10-25 02:30",
        "bookableearliest__timepoint__timestamp": str(second_reading),
        "bookableearliest__timepoint__datetime": "2026-10-25 02:30",
        "bookablelatest__timepoint__datetime": "2026-10-25 02:30",
    }
    helpers.with_utc_times(event, helpers.stockholm())
    assert event["bookableearliest_utc"] == dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert event["bookablelatest_utc"] == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert event["starts_at_utc"] == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # No end time is published: the event runs to local midnight after its last day (winter time again).
    assert event["ends_at_utc"] == dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC)


def test_an_event_without_a_start_time_starts_at_local_midnight() -> None:
    event = helpers.with_utc_times({"startdate": "2026-06-01", "enddate": "2026-06-03", "time": None},
                                   helpers.stockholm())
    assert event["starts_at_utc"] == dt.datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    assert event["ends_at_utc"] == dt.datetime(2026, 6, 3, 22, 0, tzinfo=UTC)


def test_error_documents_read_as_one_line() -> None:
    document = ("<?xml version='1.0' encoding='utf-8'?><errors>"
                "<error><code>InvalidParameter</code><message>startdate 'soon' is not a date</message></error>"
                "<error><code>InvalidParameter</code><message>enddate 'later'\n is not a date</message></error>"
                "</errors>")
    assert helpers.describe_error_document(document) == (
        "error code InvalidParameter: startdate 'soon' is not a date; "
        "error code InvalidParameter: enddate 'later' is not a date")
    assert helpers.describe_error_document("<html>Bad gateway</html>") is None
    assert helpers.describe_error_document("not xml at all") is None


def test_error_documents_never_expand_entities() -> None:
    document = ('<?xml version="1.0"?><!DOCTYPE errors [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                "<errors><error><code>&x;</code></error></errors>")
    described = helpers.describe_error_document(document) or ""
    assert "root:" not in described


def test_the_request_label_leaves_the_api_key_out() -> None:
    label = helpers.request_label({"apikey": "s3cret-key", "startdate": "2026-01-01", "includeparticipants": "true"})
    assert label == "GET /events.xml?startdate=2026-01-01&includeparticipants=true"

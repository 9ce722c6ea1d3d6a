"""The freshness rule on its own: the run's business date (today, UTC, by default), or a number of
hours where set."""

from __future__ import annotations

import datetime as dt

import pytest

from assets.cli import main
from assets.freshness import arrival
from assets.settings import freshness_hours
from pipelines.opus import VENDOR as OPUS

NOW = dt.datetime(2026, 11, 22, 6, 30, tzinfo=dt.UTC)


def test_by_default_a_load_must_be_from_today_utc():
    assert arrival(OPUS, NOW.replace(hour=0, minute=1), NOW).passed
    late_yesterday = NOW - dt.timedelta(hours=7)  # 23:30 the day before: only 7 hours old, but not today
    result = arrival(OPUS, late_yesterday, NOW)
    assert not result.passed
    assert result.description == "OPUS DX: no data arrived today; the last load completed 2026-11-21 23:30 UTC."


def test_with_a_threshold_in_hours_age_decides_not_the_date():
    late_yesterday = NOW - dt.timedelta(hours=7)
    assert arrival(OPUS, late_yesterday, NOW, max_hours=26).passed
    result = arrival(OPUS, NOW - dt.timedelta(hours=27), NOW, max_hours=26)
    assert not result.passed
    assert "no data arrived in the last 26 h; the last load completed 2026-11-21 03:30 UTC" in result.description
    assert result.metadata["hours_since"].value == 27.0


def test_for_a_past_business_date_any_load_since_that_date_has_its_data():
    backfilled = dt.date(2026, 11, 10)
    assert arrival(OPUS, NOW - dt.timedelta(days=3), NOW, as_of=backfilled).passed  # not today, but after it
    result = arrival(OPUS, dt.datetime(2026, 11, 9, 23, 30, tzinfo=dt.UTC), NOW, as_of="2026-11-10")
    assert not result.passed
    assert result.description == ("OPUS DX: no data arrived on or after 2026-11-10 (the run's business date); "
                                  "the last load completed 2026-11-09 23:30 UTC.")
    assert result.metadata["business_date"].value == "2026-11-10"


def test_for_a_business_date_ahead_of_the_clock_the_load_must_be_from_today():
    # A simulated day's loads complete today by the clock; no load can be from its date yet.
    ahead = (NOW + dt.timedelta(days=2)).date()
    assert arrival(OPUS, NOW.replace(hour=0, minute=1), NOW, as_of=ahead).passed
    assert not arrival(OPUS, NOW - dt.timedelta(hours=7), NOW, as_of=ahead).passed


def test_a_run_that_crosses_midnight_is_judged_by_the_day_it_started():
    # Loads finish at 23:59 and the check runs at 00:01: the day that began mid-run asks for nothing yet.
    started = dt.datetime(2026, 11, 21, 23, 58, tzinfo=dt.UTC)
    loaded = dt.datetime(2026, 11, 21, 23, 59, tzinfo=dt.UTC)
    checked = dt.datetime(2026, 11, 22, 0, 1, tzinfo=dt.UTC)
    assert arrival(OPUS, loaded, checked, started=started).passed
    assert arrival(OPUS, loaded, checked, as_of="2026-11-22", started=started).passed  # a simulated day ahead
    assert arrival(OPUS, loaded, checked, as_of="2026-11-21", started=started).passed
    stale = arrival(OPUS, loaded - dt.timedelta(days=1), checked, started=started)
    assert not stale.passed
    assert stale.description == "OPUS DX: no data arrived today; the last load completed 2026-11-20 23:59 UTC."
    # Without the run's start, the check's own clock decides, and the day that just began has no load.
    assert not arrival(OPUS, loaded, checked).passed


def test_for_a_past_business_date_age_counts_to_the_end_of_that_date():
    end_of_business_date = dt.datetime(2026, 11, 11, tzinfo=dt.UTC)
    assert arrival(OPUS, end_of_business_date - dt.timedelta(hours=20), NOW, max_hours=26, as_of="2026-11-10").passed
    result = arrival(OPUS, end_of_business_date - dt.timedelta(hours=30), NOW, max_hours=26, as_of="2026-11-10")
    assert not result.passed
    assert ("no data arrived in the 26 h before 2026-11-10 (the run's business date) ended, or since; "
            "the last load completed 2026-11-09 18:00 UTC") in result.description


def test_a_vendor_never_loaded_passes_and_says_so():
    result = arrival(OPUS, None, NOW, max_hours=1)
    assert result.passed and "never been loaded" in result.description


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_bad_threshold_is_refused_naming_the_setting(value, monkeypatch, warehouse, capsys):
    monkeypatch.setenv("TURNOUT_FRESHNESS_HOURS", value)
    with pytest.raises(ValueError, match="TURNOUT_FRESHNESS_HOURS must be a positive number of hours"):
        freshness_hours()
    assert main(["run", "--warehouse", str(warehouse)]) == 2
    assert "TURNOUT_FRESHNESS_HOURS" in capsys.readouterr().out
    assert not warehouse.exists()


def test_the_threshold_reads_hours(monkeypatch):
    monkeypatch.delenv("TURNOUT_FRESHNESS_HOURS", raising=False)
    assert freshness_hours() is None
    monkeypatch.setenv("TURNOUT_FRESHNESS_HOURS", " 36 ")
    assert freshness_hours() == 36.0

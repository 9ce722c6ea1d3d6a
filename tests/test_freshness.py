"""The freshness rule on its own: today (UTC) by default, or a number of hours where set."""

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

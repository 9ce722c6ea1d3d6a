"""Clock-driven figures follow the business date a run loaded for, not the machine's clock.

The sandboxes start a month before today: a load for that past date must not call
over what ended since, and a load for a simulated day ahead of the clock must call
over what ends before that day is out, though the clock has not got there.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from assets import dashboard
from assets.runner import run_daily_load
from assets.settings import DBT_PROJECT_DIR
from assets.transform import dbt_executable, dbt_vars
from sandboxes.eventbookings import EventBookingsSandbox
from sandboxes.opus import OpusSandbox
from sandboxes.server import SandboxServer
from tests.readback import query

DAYS_BACK = 30  # the sandbox events of the first weeks end between the past business date and now
DAYS_AHEAD = 14  # long enough for some events to end between now and then, whatever the weekday


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SandboxServer]]:
    """OPUS and EventBookings (they record attendance), starting DAYS_BACK days before today."""
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DAYS_BACK)
    apps = [OpusSandbox(seed=7, scale="small", start_date=start),
            EventBookingsSandbox(seed=7, scale="small", start_date=start)]
    with SandboxServer(apps[0]) as opus, SandboxServer(apps[1]) as eventbookings:
        for server in (opus, eventbookings):
            for name, value in server.app.settings(server.base_url).items():
                monkeypatch.setenv(name, value)
        yield [opus, eventbookings]


def load(warehouse: Path, business_date: dt.date, instance: dg.DagsterInstance) -> None:
    outcome = run_daily_load(warehouse, as_of=business_date.isoformat(), instance=instance)
    # The freshness checks pass too: every vendor's data arrived for the business date.
    assert outcome.ok, (outcome.failures, outcome.checks_failed)


def count(warehouse: Path, sql: str, moment: dt.datetime) -> int:
    [(found,)] = query(warehouse, sql.replace("$moment", f"cast('{moment.isoformat()}' as timestamptz)"))
    return found


# Each counts what breaks the rule "judged at $moment"; every one must be 0.
JUDGED_AT_THE_BUSINESS_MOMENT = {
    "pending registrations of events over":
        """select count(*) from marts.fct_registrations r join marts.dim_events e using (event_key)
           where r.attendance_status = 'pending' and e.ends_at < $moment""",
    "no-shows of events not over":
        """select count(*) from marts.fct_registrations r join marts.dim_events e using (event_key)
           where r.attendance_status = 'no_show' and (e.ends_at >= $moment or e.ends_at is null)""",
    "attended at events not started":
        """select count(*) from marts.fct_registrations r join marts.dim_events e using (event_key)
           where r.attendance_status = 'attended' and e.starts_at > $moment""",
    "events with a calendar status the moment disagrees with":
        """select count(*) from marts.dim_events where status <> 'cancelled'
           and status <> case when ends_at < $moment then 'completed' else 'scheduled' end""",
    "event attendance before the start":
        """select count(*) from marts.rpt_event_attendance where starts_at > $moment
           and (attendees is not null or minutes_attended is not null or average_minutes_attended is not null)""",
    "no-shows and rates before the end":
        """select count(*) from marts.rpt_event_attendance where ends_at >= $moment
           and (no_shows is not null or attendance_rate is not null or no_show_rate is not null)""",
    "session attendance before the start":
        """select count(*) from marts.rpt_session_attendance where starts_at > $moment
           and (attendees is not null or minutes_attended is not null or average_minutes_attended is not null
                or attention_checks_passed is not null or attention_checks_issued is not null)""",
    "EventBookings check-in rows of events not started":
        """select count(*) from staging.int_eventbookings__session_attendance a
           join staging.stg_eventbookings__events e using (vendor_event_id)
           where e.starts_at > $moment or a.checked_in_at > $moment""",
    "registrations, cancellations and orders dated after it":
        """select (select count(*) from marts.fct_registrations
                   where registered_at > $moment or cancelled_at > $moment)
                + (select count(*) from marts.fct_orders where ordered_at > $moment)""",
    "reports judged at another moment":
        "select count(*) from marts.rpt_event_attendance where as_of is distinct from $moment",
}


def assert_judged_at(warehouse: Path, moment: dt.datetime) -> None:
    broken = {rule: found for rule, sql in JUDGED_AT_THE_BUSINESS_MOMENT.items()
              if (found := count(warehouse, sql, moment))}
    assert not broken, f"judged at {moment}: {broken}"
    # The dashboard splits held from upcoming where the marts did.
    reports = dashboard.read_reports(warehouse)
    assert reports.judged_at == moment
    assert dashboard.summarise(reports.events, reports.judged_at).held == count(
        warehouse, "select count(*) from marts.rpt_event_attendance where coalesce(ends_at, starts_at) < $moment",
        moment)


@pytest.mark.e2e
def test_a_past_business_date_and_a_simulated_day_ahead_are_judged_at_their_own_end(
    sandboxes, warehouse, instance
):
    past = sandboxes[0].app.today
    load(warehouse, past, instance)
    assert_judged_at(warehouse, end_of(past))
    # What ended between that date and now is still to come for it: scheduled, registrations pending.
    since = """from marts.fct_registrations r join marts.dim_events e using (event_key)
               where e.ends_at >= $moment and e.ends_at < now() and r.attendance_status is not null"""
    assert count(warehouse, f"select count(*) {since}", end_of(past)) > 0
    assert count(warehouse, f"select count(*) {since} and r.attendance_status <> 'pending'", end_of(past)) == 0
    assert query(warehouse, f"""select distinct status from marts.dim_events
                                where ends_at >= '{end_of(past).isoformat()}' and ends_at < now()""") == [
        ("scheduled",)]

    for server in sandboxes:
        server.app.advance(DAYS_BACK + DAYS_AHEAD)
    ahead = sandboxes[0].app.today
    assert ahead == dt.datetime.now(dt.UTC).date() + dt.timedelta(days=DAYS_AHEAD)
    load(warehouse, ahead, instance)
    assert_judged_at(warehouse, end_of(ahead))
    # What ends before that day is out is over for it, though the clock has not got there.
    ending = """from marts.fct_registrations r join marts.dim_events e using (event_key)
                where e.ends_at >= now() and e.ends_at < $moment"""
    assert count(warehouse, f"select count(*) {ending} and r.attendance_status = 'no_show'", end_of(ahead)) > 0
    assert query(warehouse, f"""select distinct status from marts.dim_events where status <> 'cancelled'
                                and ends_at >= now() and ends_at < '{end_of(ahead).isoformat()}'""") == [
        ("completed",)]
    # The simulated days' registrations are not in the future of the marts.
    assert count(warehouse, "select count(*) from marts.fct_registrations where registered_at > now()",
                 end_of(ahead)) > 0


def test_a_run_for_another_date_passes_it_to_dbt_and_a_run_for_today_keeps_the_vars_of_every_day():
    settings = {"warehouse_path": "/w.duckdb"}
    today = dt.date(2026, 3, 2)
    assert json.loads(dbt_vars(settings, "2026-02-27", today)) == {**settings, "as_of": "2026-02-27"}
    assert json.loads(dbt_vars(settings, "2026-03-04", today)) == {**settings, "as_of": "2026-03-04"}
    # Today's runs judge by the build's start either way; the same vars keep dbt's parse.
    assert json.loads(dbt_vars(settings, "2026-03-02", today)) == settings
    assert json.loads(dbt_vars(settings, None, today)) == settings


def business_now(tmp_path: Path, **extra_vars: str) -> subprocess.CompletedProcess[str]:
    """What business_now() compiles to, from dbt itself."""
    return subprocess.run(
        [dbt_executable(), "--quiet", "compile", "--profiles-dir", ".", "--target-path", str(tmp_path / "target"),
         "--inline", "select {{ business_now() }} as moment",
         "--vars", json.dumps({"warehouse_path": str(tmp_path / "w.duckdb"), **extra_vars})],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )


def test_business_now_is_the_end_of_another_date_and_the_build_start_for_today(tmp_path):
    other = business_now(tmp_path, as_of="2026-02-27")
    assert other.returncode == 0, other.stdout[-2000:]
    assert "cast('2026-02-28 00:00:00+00:00' as timestamp with time zone)" in other.stdout

    before = dt.datetime.now(dt.UTC)
    today = business_now(tmp_path, as_of=before.date().isoformat())
    assert today.returncode == 0, today.stdout[-2000:]
    [stamp] = [line.split("'")[1] for line in today.stdout.splitlines() if "as moment" in line]
    assert before - dt.timedelta(minutes=1) <= dt.datetime.fromisoformat(stamp) <= dt.datetime.now(dt.UTC)

    wrong = business_now(tmp_path, as_of="2/27/2026")
    assert wrong.returncode != 0 and "var as_of must be a date, YYYY-MM-DD, not '2/27/2026'" in wrong.stdout

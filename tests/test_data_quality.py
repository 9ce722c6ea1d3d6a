"""Data quality as code: vendor freshness checks, the privacy switch, and rates recomputed from raw."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from assets.freshness import CHECKED_ASSET
from assets.runner import run_daily_load
from assets.settings import DBT_PROJECT_DIR
from assets.transform import dbt_executable
from tests.readback import query
from tests.reference import LAST_DAY, reference_sandboxes

pytestmark = pytest.mark.e2e


def _load(warehouse, as_of, instance):
    outcome = run_daily_load(warehouse, as_of=as_of, instance=instance)
    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    return outcome


def test_a_vendor_whose_data_did_not_arrive_for_the_business_date_fails_its_freshness_check(
    opus_configured, brp_configured, warehouse, instance, monkeypatch
):
    as_of = opus_configured.app.today.isoformat()
    outcome = _load(warehouse, as_of, instance)
    assert outcome.checks_passed > 0 and not outcome.checks_failed

    # BRP's last load was the day before the run's business date, and now its settings are
    # gone: its data for that date does not arrive.
    yesterday = dt.datetime.combine(opus_configured.app.today, dt.time(23, 30), tzinfo=dt.UTC) - dt.timedelta(days=1)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update raw_brp._dlt_loads set inserted_at = ?", [yesterday])
    for name in brp_configured.app.settings(brp_configured.base_url):
        monkeypatch.delenv(name)

    outcome = run_daily_load(warehouse, as_of=as_of, instance=instance)

    assert not outcome.ok and not outcome.failures
    assert outcome.loaded_vendors == ["OPUS DX"]
    [failed] = outcome.checks_failed
    assert failed.startswith("marts/dim_events: brp_arrived_today")
    assert (f"no data arrived on or after {as_of} (the run's business date); "
            f"the last load completed {yesterday:%Y-%m-%d %H:%M} UTC") in failed
    # Dagster records the same: a failed asset check for BRP, a passed one for OPUS.
    keys = [dg.AssetCheckKey(CHECKED_ASSET, name) for name in ("brp_arrived_today", "opus_arrived_today")]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    statuses = {key.name: latest[key].status.value for key in keys}
    assert statuses == {"brp_arrived_today": "FAILED", "opus_arrived_today": "SUCCEEDED"}


def test_the_privacy_switch_hashes_emails_and_names_in_the_marts_and_keeps_the_counts(
    reference, warehouse, instance, monkeypatch
):
    reference.copy(0, warehouse)
    plain = query(warehouse, "select person_key, email, first_name, last_name from marts.dim_people order by 1")
    registrations = query(warehouse, "select count(distinct person_key) from marts.fct_registrations")

    # The same day loaded again, from the same sandboxes, with the switch on.
    monkeypatch.setenv("TURNOUT_HASH_PERSONAL_DATA", "true")
    with reference_sandboxes(monkeypatch, reference.start):
        _load(warehouse, reference.as_of(0).isoformat(), instance)

    hashed = query(warehouse, "select person_key, email, first_name, last_name from marts.dim_people order by 1")
    assert [row[0] for row in hashed] == [row[0] for row in plain]

    def sha(value):
        return None if value is None else hashlib.sha256(f"turnout:{value}".encode()).hexdigest()

    assert hashed == [(key, sha(email), sha(first), sha(last)) for key, email, first, last in plain]
    assert query(warehouse, "select count(distinct person_key) from marts.fct_registrations") == registrations
    # No email or name in plain text is left in any mart.
    emails = {email for _, email, _, _ in plain if email}
    for (table,) in query(warehouse, "select table_name from information_schema.tables where table_schema = 'marts'"):
        text = " ".join(str(value) for row in query(warehouse, f"select * from marts.{table}") for value in row)
        assert not any(email in text for email in emails), table


def _latest_versions(rows, key_width):
    """The newest version of each key: rows are (key..., valid_from, valid_to, *fields)."""
    latest = {}
    for row in rows:
        key = row[:key_width]
        if key not in latest or row[key_width] > latest[key][key_width]:
            latest[key] = row
    return latest.values()


def _person(email, fallback):
    email = (email or "").strip().lower()
    return ("email", email) if email else ("id", str(fallback))


def _utc(text):
    text = (text or "").strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


class EventFigures:
    def __init__(self, starts_at, ends_at, records_attendance=True):
        self.starts_at, self.ends_at, self.records_attendance = starts_at, ends_at, records_attendance
        self.registered, self.cancelled = [], 0  # registered: the person of each current registration
        self.attended, self.seconds = set(), None

    def expected(self, now):
        registrations, cancellations = len(self.registered), self.cancelled
        started, over = self.starts_at <= now, self.ends_at < now
        started, over = started and self.records_attendance, over and self.records_attendance
        attendees = len(self.attended) if started else None
        no_shows = sum(1 for person in self.registered if person not in self.attended) if over else None
        rated = over and registrations > 0
        total = registrations + cancellations
        timed = self.seconds is not None and started
        return {
            "registrations": registrations, "cancellations": cancellations,
            "attendees": attendees, "no_shows": no_shows,
            "attendance_rate": len(self.attended) / registrations if rated else None,
            "no_show_rate": no_shows / registrations if rated else None,
            "cancellation_rate": cancellations / total if total else None,
            "average_minutes_attended": (self.seconds / 60 / len(self.attended)
                                         if timed and self.attended else None),
        }


def _opus_from_raw(warehouse):
    events = {str(event_id): EventFigures(_utc(start), _utc(end)) for event_id, start, end in query(
        warehouse, "select id, start_date, end_date from raw_opus.events")}
    registrants = query(warehouse, """select event_id, registration_id, _dlt_valid_from, _dlt_valid_to,
                                      email, user_id from raw_opus.registrants""")
    for event_id, _, _, valid_to, email, user_id in _latest_versions(registrants, 2):
        figures = events[str(event_id)]
        if valid_to is None:
            figures.registered.append(_person(email, user_id))
        else:
            figures.cancelled += 1
    for event_id, email, user_id, seconds in query(warehouse, """select event_id, email, user_id, total_seconds
            from raw_opus.session_attendance where _dlt_valid_to is null"""):
        figures = events[str(event_id)]
        seconds = int(seconds) if str(seconds or "").strip() else None
        if seconds is not None:
            figures.seconds = (figures.seconds or 0) + seconds
        if seconds:
            figures.attended.add(_person(email, user_id))
    for figures in events.values():
        figures.seconds = figures.seconds or 0  # OPUS times attendance: none is zero minutes
    return events


def _eventbookings_from_raw(warehouse, now):
    events = {}
    for uuid, attending_on in query(warehouse, "select uuid, attending_on from raw_eventbookings.events"):
        pairs = json.loads(attending_on)
        events[uuid] = EventFigures(_utc(pairs[0]["utc"]), _utc(pairs[-1]["utc"]))
    attendees = query(warehouse, """select event_uuid, uuid, _dlt_valid_from, _dlt_valid_to, email, checked_in
                                    from raw_eventbookings.attendees""")
    for event_uuid, uuid, _, valid_to, email, checked_in in _latest_versions(attendees, 2):
        figures = events[event_uuid]
        if valid_to is not None:
            figures.cancelled += 1
            continue
        person = _person(email, uuid)
        figures.registered.append(person)
        if str(checked_in).strip().lower() == "true" and figures.starts_at <= now:
            figures.attended.add(person)
    return events


def _brp_from_raw(warehouse):
    # BRP records bookings, not who came: only registration figures exist.
    events = {str(event_id): EventFigures(starts, ends, records_attendance=False) for event_id, starts, ends in query(
        warehouse, "select id, starts_at_utc, ends_at_utc from raw_brp.events")}
    participants = query(warehouse, """select event_id, eventbookingid, _dlt_valid_from, _dlt_valid_to, personid
                                      from raw_brp.participants""")
    for event_id, _, _, valid_to, person in _latest_versions(participants, 2):
        if valid_to is None:
            events[str(event_id)].registered.append(("id", str(person)))
        else:
            events[str(event_id)].cancelled += 1
    return events


def test_the_rates_recomputed_straight_from_the_raw_tables_agree_exactly(reference):
    # The reference load after its last day: daily runs that saw registrations cancelled,
    # events start and end, and check-ins arrive.
    warehouse = reference.day(LAST_DAY)

    # A run for a business date other than today judges started and over at that date's end.
    now = dt.datetime.combine(reference.as_of(LAST_DAY) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    assert query(warehouse, "select distinct as_of from marts.rpt_event_attendance") == [(now,)]
    columns = ("registrations", "cancellations", "attendees", "no_shows", "attendance_rate", "no_show_rate",
               "cancellation_rate", "average_minutes_attended")
    report = {(vendor, event_id): dict(zip(columns, figures, strict=True)) for vendor, event_id, *figures in query(
        warehouse, f"select vendor, vendor_event_id, {', '.join(columns)} from marts.rpt_event_attendance "
                   "where vendor in ('opus', 'eventbookings', 'brp')")}
    expected = {("opus", event_id): figures.expected(now) for event_id, figures in _opus_from_raw(warehouse).items()}
    expected.update({("eventbookings", event_id): figures.expected(now)
                     for event_id, figures in _eventbookings_from_raw(warehouse, now).items()})
    expected.update({("brp", event_id): figures.expected(now) for event_id, figures in _brp_from_raw(warehouse).items()})
    assert set(report) == set(expected)
    assert report == expected
    rated = [key for key, figures in expected.items() if figures["attendance_rate"] is not None]
    assert {vendor for vendor, _ in rated} == {"opus", "eventbookings"}
    assert any(figures["cancellation_rate"] for (vendor, _), figures in expected.items() if vendor == "brp")

    curve, days_moved = _registration_curve(warehouse)
    assert query(warehouse, """select event_key, day, day_timezone, new_registrations, cancellations, registered_total
                                from marts.rpt_daily_registrations order by 1, 2""") == curve
    assert days_moved > 0  # some registrations fall on another date locally than in UTC


def _registration_curve(warehouse):
    """rpt_daily_registrations recomputed from fct_registrations, counting days in each event's zone."""
    zones = dict(query(warehouse, "select event_key, coalesce(timezone, 'UTC') from marts.dim_events"))
    days, days_moved = {}, 0
    for event_key, status, registered_at, first_seen_at, cancelled_at in query(warehouse, """
            select event_key, status, registered_at, first_seen_at, cancelled_at from marts.fct_registrations
            where status in ('registered', 'cancelled')"""):
        zone = ZoneInfo(zones[event_key])
        for moment, column in ((registered_at or first_seen_at, 0), (cancelled_at if status == "cancelled" else None, 1)):
            if moment is None:
                continue
            day = moment.astimezone(zone).date()
            days_moved += day != moment.astimezone(dt.UTC).date()
            counts = days.setdefault((event_key, day), [0, 0])
            counts[column] += 1
    curve, totals = [], {}
    for (event_key, day), (registered, cancelled) in sorted(days.items()):
        totals[event_key] = totals.get(event_key, 0) + registered - cancelled
        curve.append((event_key, day, zones[event_key], registered, cancelled, totals[event_key]))
    return curve, days_moved


def test_dbt_docs_generate_works_and_every_mart_column_is_described(reference, tmp_path):
    warehouse = reference.copy(0, tmp_path / "turnout.duckdb")
    target = tmp_path / "dbt_docs"
    generated = subprocess.run(
        [dbt_executable(), "docs", "generate", "--profiles-dir", ".", "--target-path", str(target),
         "--vars", json.dumps({"warehouse_path": str(warehouse)})],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )
    assert generated.returncode == 0, generated.stdout[-3000:]
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    marts = {node["name"]: node for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["schema"] == "marts"}
    built = {node["metadata"]["name"]: node for node in catalog["nodes"].values()
             if node["metadata"]["schema"] == "marts"}
    assert set(built) == set(marts) and {"rpt_event_attendance", "rpt_daily_registrations",
                                         "rpt_session_attendance"} <= set(marts)
    undescribed = [f"{name}.{column}" for name, node in built.items() for column in node["columns"]
                   if not marts[name]["columns"].get(column, {}).get("description")]
    assert not undescribed
    assert all(node["description"] for node in marts.values())

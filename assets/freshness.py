"""Freshness: one check per vendor that its data arrived for the run's business date.

The checks sit on `marts/dim_events`, which every daily run builds, so they
run even when a vendor's own load was left out (its settings went missing).
"Today" is the business date the run loads for (its turnout/as_of tag; the
UTC date where it has none), as it is for the marts. A vendor loaded before
whose last completed load is from before that date, or, where
$TURNOUT_FRESHNESS_HOURS is set, more hours older than the date's end (or now,
whichever comes first), fails its check; one never loaded passes, saying so.
A load completed after a past business date holds that date's data, so a
backfill asks for nothing the warehouse lacks; a simulated day ahead of the
clock is loaded on the day the run started, so that is as far as the check can
look. "Today" is the UTC date the run started, not the moment the check runs:
a run that crosses midnight loads its vendors before it and checks them after.
"""

import datetime as dt
from collections.abc import Iterator, Sequence

import dagster as dg

from assets.settings import AS_OF_TAG, WAREHOUSE_OP_TAG, WAREHOUSE_POOL, freshness_hours
from assets.warehouse import Warehouse
from pipelines.vendor import Vendor

CHECKED_ASSET = dg.AssetKey(["marts", "dim_events"])
LOADED = 0  # dlt's `_dlt_loads.status` of a completed load


def check_name(vendor: Vendor) -> str:
    return f"{vendor.name}_arrived_today"


def arrival_checks(vendors: Sequence[Vendor]) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(
            name=check_name(vendor), asset=CHECKED_ASSET, blocking=False,
            description=f"{vendor.title}: the last completed load is from the run's business date "
                        f"(the UTC date the run started, for a run without one) or later; where $TURNOUT_FRESHNESS_HOURS "
                        f"is set, at most that many hours old at the end of that date (now, for today).",
        )
        for vendor in vendors
    ]

    @dg.multi_asset_check(specs=specs, name="vendor_arrivals", can_subset=True, pool=WAREHOUSE_POOL,
                          op_tags={WAREHOUSE_OP_TAG: "warehouse"})
    def vendor_arrivals(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
        now, max_hours = dt.datetime.now(dt.UTC), freshness_hours()
        as_of = context.run.tags.get(AS_OF_TAG)
        started = run_started(context)
        selected = {key.name for key in context.selected_asset_check_keys}
        last_loads = last_completed_loads(warehouse, [v for v in vendors if check_name(v) in selected])
        for vendor in vendors:
            if check_name(vendor) in selected:
                yield arrival(vendor, last_loads.get(vendor.dataset), now, max_hours, as_of, started)

    return vendor_arrivals


def run_started(context: dg.AssetCheckExecutionContext) -> dt.datetime | None:
    """When the run started (UTC), from Dagster's run record; None where it has no start time."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record is not None else None
    return dt.datetime.fromtimestamp(started, dt.UTC) if started else None


def business_day(as_of: str | dt.date | None, today: dt.date) -> dt.date:
    """The day a vendor's data must have arrived for: the run's business date (`as_of`,
    today where None), but never a day the clock has not reached, since the loads of a
    simulated day ahead of it complete today."""
    if as_of is None or as_of == "":
        return today
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of).strip()[:10])
    return min(day, today)


def arrival(vendor: Vendor, last_load: dt.datetime | None, now: dt.datetime,
            max_hours: float | None = None, as_of: str | dt.date | None = None,
            started: dt.datetime | None = None) -> dg.AssetCheckResult:
    """Passed when the last load is from the run's business date (`as_of`, else the UTC date the
    run `started`, else `now`'s) or later, or, where `max_hours` is given, at most that many hours
    older than the end of that date or than `now`, whichever comes first."""
    if last_load is None:
        return dg.AssetCheckResult(check_name=check_name(vendor), passed=True,
                                   description=f"{vendor.title} has never been loaded (not configured).",
                                   metadata={"last_loaded_at": "never"})
    today = (started or now).date()
    day = business_day(as_of, today)
    hours_since = (now - last_load).total_seconds() / 3600
    if max_hours is None:
        fresh, description = _arrived_by_date(vendor, last_load, today, day)
    else:
        fresh, description = _arrived_by_age(vendor, last_load, now, day, max_hours)
    return dg.AssetCheckResult(
        check_name=check_name(vendor), passed=fresh, description=description,
        metadata={"last_loaded_at": last_load.isoformat(), "hours_since": round(hours_since, 1),
                  "business_date": day.isoformat()},
    )


def _arrived_by_date(vendor: Vendor, last_load: dt.datetime, today: dt.date, day: dt.date) -> tuple[bool, str]:
    fresh = last_load.date() >= day
    since = "today" if day == today else f"on or after {day} (the run's business date)"
    stamp = f"{last_load:%Y-%m-%d %H:%M} UTC"
    return fresh, (f"{vendor.title}: data arrived {since} ({stamp})." if fresh else
                   f"{vendor.title}: no data arrived {since}; the last load completed {stamp}.")


def _arrived_by_age(vendor: Vendor, last_load: dt.datetime, now: dt.datetime, day: dt.date,
                    max_hours: float) -> tuple[bool, str]:
    # Age counts up to the end of a past business date: a backfill needs that date's data, not today's.
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    fresh = (min(now, day_end) - last_load).total_seconds() / 3600 <= max_hours
    stamp = f"{last_load:%Y-%m-%d %H:%M} UTC"
    window = (f"the last {max_hours:g} h" if day_end > now else
              f"the {max_hours:g} h before {day} (the run's business date) ended, or since")
    hours_since = (now - last_load).total_seconds() / 3600
    return fresh, (f"{vendor.title}: data arrived {hours_since:.1f} h ago ({stamp})." if fresh else
                   f"{vendor.title}: no data arrived in {window}; the last load completed {stamp}.")


def last_completed_loads(warehouse: Warehouse, vendors: Sequence[Vendor]) -> dict[str, dt.datetime]:
    """The time of each vendor's last completed dlt load, by dataset (UTC)."""
    if not warehouse.exists() or not vendors:
        return {}
    with warehouse.reading() as con:
        present = {name for (name,) in con.execute(
            "select table_schema from information_schema.tables where table_name = '_dlt_loads'").fetchall()}
        loads = {}
        for vendor in vendors:
            if vendor.dataset not in present:
                continue
            [(last,)] = con.execute(
                f"select max(inserted_at) from {vendor.dataset}._dlt_loads where status = ?", [LOADED]
            ).fetchall()
            if last is not None:
                loads[vendor.dataset] = last.astimezone(dt.UTC) if last.tzinfo else last.replace(tzinfo=dt.UTC)
    return loads

"""Freshness: one check per vendor that its data arrived today.

The checks sit on `marts/dim_events`, which every daily run builds, so they
run even when a vendor's own load was left out (its settings went missing).
A vendor loaded before whose last completed load is not from today (UTC), or
older than $TURNOUT_FRESHNESS_HOURS hours where that is set, fails its check;
one never loaded passes, saying so.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg
import duckdb

from assets.settings import WAREHOUSE_OP_TAG, WAREHOUSE_POOL, freshness_hours
from pipelines.vendor import Vendor

CHECKED_ASSET = dg.AssetKey(["marts", "dim_events"])
LOADED = 0  # dlt's `_dlt_loads.status` of a completed load


def check_name(vendor: Vendor) -> str:
    return f"{vendor.name}_arrived_today"


def arrival_checks(vendors: Sequence[Vendor], warehouse: Path) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(
            name=check_name(vendor), asset=CHECKED_ASSET, blocking=False,
            description=f"{vendor.title}: the last completed load is from today (UTC), "
                        f"or younger than $TURNOUT_FRESHNESS_HOURS where set.",
        )
        for vendor in vendors
    ]

    @dg.multi_asset_check(specs=specs, name="vendor_arrivals", can_subset=True, pool=WAREHOUSE_POOL,
                          op_tags={WAREHOUSE_OP_TAG: "warehouse"})
    def vendor_arrivals(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        now, max_hours = dt.datetime.now(dt.UTC), freshness_hours()
        selected = {key.name for key in context.selected_asset_check_keys}
        last_loads = last_completed_loads(warehouse, [v for v in vendors if check_name(v) in selected])
        for vendor in vendors:
            if check_name(vendor) in selected:
                yield arrival(vendor, last_loads.get(vendor.dataset), now, max_hours)

    return vendor_arrivals


def arrival(vendor: Vendor, last_load: dt.datetime | None, now: dt.datetime,
            max_hours: float | None = None) -> dg.AssetCheckResult:
    """Passed when the last load is from `now`'s UTC date, or at most `max_hours` old where given."""
    if last_load is None:
        return dg.AssetCheckResult(check_name=check_name(vendor), passed=True,
                                   description=f"{vendor.title} has never been loaded (not configured).",
                                   metadata={"last_loaded_at": "never"})
    stamp = f"{last_load:%Y-%m-%d %H:%M} UTC"
    hours_since = (now - last_load).total_seconds() / 3600
    if max_hours is None:
        fresh = last_load.date() >= now.date()
        description = (f"{vendor.title}: data arrived today ({stamp})." if fresh else
                       f"{vendor.title}: no data arrived today; the last load completed {stamp}.")
    else:
        fresh = hours_since <= max_hours
        description = (f"{vendor.title}: data arrived {hours_since:.1f} h ago ({stamp})." if fresh else
                       f"{vendor.title}: no data arrived in the last {max_hours:g} h; "
                       f"the last load completed {stamp}.")
    return dg.AssetCheckResult(
        check_name=check_name(vendor), passed=fresh, description=description,
        metadata={"last_loaded_at": last_load.isoformat(), "hours_since": round(hours_since, 1)},
    )


def last_completed_loads(warehouse: Path, vendors: Sequence[Vendor]) -> dict[str, dt.datetime]:
    """The time of each vendor's last completed dlt load, by dataset (UTC)."""
    if not warehouse.exists() or not vendors:
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
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

"""The Dagster code location: one lineage graph, one writer at a time, a daily schedule."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from assets.definitions import DAILY_JOB, build_definitions
from assets.settings import AS_OF_TAG, WAREHOUSE_POOL
from pipelines.registry import VENDORS


@pytest.fixture
def defs(warehouse) -> dg.Definitions:
    return build_definitions(warehouse)


def test_dbt_sources_are_the_dlt_assets(defs):
    graph = defs.resolve_asset_graph()
    produced = {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    raw_keys = {key for key in produced if key.path[0].startswith("raw_")}
    assert raw_keys >= {dg.AssetKey([v.dataset, "events"]) for v in VENDORS}
    # Every upstream of every dbt model is produced in this code location: nothing dangles.
    for key in produced - raw_keys:
        for parent in graph.get(key).parent_keys:
            assert parent in produced, f"{key.to_user_string()} depends on unproduced {parent}"
    staging_events = dg.AssetKey(["staging", "stg_opus__events"])
    assert dg.AssetKey(["raw_opus", "events"]) in graph.get(staging_events).parent_keys


def test_every_warehouse_writer_shares_one_pool(defs):
    for assets_def in defs.assets:
        assert assets_def.op.pool == WAREHOUSE_POOL, assets_def.op.name


def test_dbt_tests_are_asset_checks(defs):
    checks = defs.resolve_asset_graph().asset_check_keys
    assert any(check.name.startswith("unique_dim_events_event_key") for check in checks)
    assert any(check.name.startswith("relationships_fct_registrations") for check in checks)


def test_schedule_runs_the_daily_job_at_five_utc_with_its_date(warehouse, opus_configured, instance):
    defs = build_definitions(warehouse)
    [schedule] = defs.schedules
    assert schedule.cron_schedule == "0 5 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == DAILY_JOB
    # Entered: the instance the schedule opens from the context is then closed with it, not
    # whenever the garbage collector gets to it, in the middle of some later test.
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime.datetime(2026, 11, 21, 5, 0)
    ) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.tags[AS_OF_TAG] == "2026-11-21"
    # Only OPUS is configured: the other vendors' raw tables, and the staging of
    # those never loaded, are left out rather than failing every morning.
    selected = set(request.asset_selection)
    assert dg.AssetKey(["raw_opus", "events"]) in selected
    assert dg.AssetKey(["staging", "stg_opus__events"]) in selected
    assert dg.AssetKey(["marts", "dim_events"]) in selected
    for vendor in VENDORS:
        if vendor.name != "opus":
            assert not any(key.path[0] == vendor.dataset for key in selected)
            assert not any(key.path[-1].startswith(f"stg_{vendor.name}__") for key in selected)


def test_schedule_skips_when_no_vendor_is_configured(warehouse, instance):
    [schedule] = build_definitions(warehouse).schedules
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime.datetime(2026, 11, 21, 5, 0)
    ) as context:
        result = schedule.evaluate_tick(context)
    assert not result.run_requests and "no vendor is configured" in result.skip_message
    assert build_definitions(warehouse, cron="30 6 * * *").schedules[0].cron_schedule == "30 6 * * *"


@pytest.mark.e2e
@pytest.mark.parametrize("module", ["assets.definitions", "tests.two_writers"])
def test_the_default_executor_materialises_everything(
    module, opus_configured, eventbookings_configured, brp_configured, icareus_configured, warehouse, tmp_path
):
    """`dagster job execute` uses the code location's multiprocess executor, as a deployment does.

    With several vendor loads in one run, they would write the warehouse at once
    unless writers are limited to one at a time.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "TURNOUT_WAREHOUSE": str(warehouse)}
    for name, value in opus_configured.app.settings(opus_configured.base_url).items():
        env[name.replace("__OPUS__", "__OPUS_SECOND__")] = value
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", module, "-a", "defs", "-j", DAILY_JOB],
        env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "lock" not in output.lower()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_registrations").fetchone()[0] > 0
        schemas = {s for (s,) in con.execute("select schema_name from information_schema.schemata").fetchall()}
    if module == "assets.definitions":
        assert {"raw_opus", "raw_eventbookings", "raw_brp", "raw_icareus"} <= schemas
    if module == "tests.two_writers":
        assert {"raw_opus", "raw_opus_second"} <= schemas

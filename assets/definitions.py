"""The Turnout code location: vendor loads, dbt models, the daily job and its schedule."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from assets.freshness import arrival_checks
from assets.ingest import vendor_assets
from assets.settings import AS_OF_TAG, WAREHOUSE_OP_TAG, schedule_cron
from assets.transform import dbt_executable, dbt_project, warehouse_models
from assets.vendor_models import model_vendor
from assets.warehouse import Warehouse
from pipelines import settings
from pipelines.registry import VENDORS
from pipelines.vendor import Vendor

DAILY_JOB = "daily_load"
RAW_PREFIX = "raw_"
# DuckDB allows one writing process: writer steps run one at a time within a run.
WAREHOUSE_EXECUTOR = dg.multiprocess_executor.configured(
    {"tag_concurrency_limits": [{"key": WAREHOUSE_OP_TAG, "value": "warehouse", "limit": 1}]}
)


def build_definitions(
    warehouse: Warehouse | str | os.PathLike[str] | None = None,
    vendors: Sequence[Vendor] = VENDORS,
    cron: str | None = None,
) -> dg.Definitions:
    # A settings file dlt cannot parse fails every vendor alike: it is named in one line here,
    # not in dlt's traceback from the first pipeline made. A bad value fails only its vendor's load.
    broken = settings.file_problems()
    if broken:
        raise settings.BrokenFile("; ".join(broken))
    # The warehouse given, else $TURNOUT_WAREHOUSE's: one resource every asset and check uses.
    the_warehouse = Warehouse.of(warehouse)
    the_warehouse.location.parent.mkdir(parents=True, exist_ok=True)
    project = dbt_project()
    loads = [vendor_assets(vendor, the_warehouse) for vendor in vendors]
    models = warehouse_models(project, without_vendors=[v.name for v in VENDORS if v not in vendors])
    daily_job = dg.define_asset_job(DAILY_JOB, selection=dg.AssetSelection.all())
    every_key = [key for assets in (*loads, models) for key in assets.keys]

    @dg.schedule(
        job=daily_job,
        cron_schedule=cron or schedule_cron(),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def daily_load_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        """Loads every configured vendor and rebuilds the models, once a day."""
        as_of = context.scheduled_execution_time.date().isoformat()
        instance = context.instance

        def was_loaded(vendor: Vendor) -> bool:
            return any(instance.get_latest_materialization_event(key) is not None
                       for key in every_key if key.path[0] == vendor.dataset)

        skipped = [vendor for vendor in vendors if vendor.missing_settings()]
        selection = daily_selection(every_key, skipped, was_loaded)
        if not any(key.path[0].startswith(RAW_PREFIX) for key in selection):
            return dg.SkipReason("no vendor is configured (see README: Configure a vendor)")
        return dg.RunRequest(run_key=as_of, tags={AS_OF_TAG: as_of}, asset_selection=selection)

    return dg.Definitions(
        assets=[*loads, models],
        asset_checks=[arrival_checks(vendors)],
        jobs=[daily_job],
        schedules=[daily_load_schedule],
        resources={"dlt": DagsterDltResource(), "dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable()),
                   "warehouse": the_warehouse},
        executor=WAREHOUSE_EXECUTOR,
    )


def daily_selection(
    keys: Iterable[dg.AssetKey], skipped: Sequence[Vendor], was_loaded: Callable[[Vendor], bool]
) -> list[dg.AssetKey]:
    """What a daily run can build: everything but the raw tables of the vendors skipped
    (not configured), and their own models too (staging, and intermediate per vendor) when
    they were never loaded (those views would have no table)."""

    def unbuildable(key: dg.AssetKey) -> bool:
        for vendor in skipped:
            if key.path[0] == vendor.dataset:
                return True
            if model_vendor(key.path[-1]) == vendor.name and not was_loaded(vendor):
                return True
        return False

    return [key for key in keys if not unbuildable(key)]


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev -w workspace.yaml`; the warehouse is $TURNOUT_WAREHOUSE."""
    return build_definitions()

"""The Turnout code location: vendor loads, dbt models, the daily job and its schedule."""

from __future__ import annotations

import os
from collections.abc import Sequence

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from assets.ingest import vendor_assets
from assets.settings import AS_OF_TAG, WAREHOUSE_OP_TAG, schedule_cron, warehouse_path
from assets.transform import dbt_executable, dbt_project, warehouse_models
from pipelines.registry import VENDORS
from pipelines.vendor import Vendor

DAILY_JOB = "daily_load"
# DuckDB allows one writing process: writer steps run one at a time within a run.
WAREHOUSE_EXECUTOR = dg.multiprocess_executor.configured(
    {"tag_concurrency_limits": [{"key": WAREHOUSE_OP_TAG, "value": "warehouse", "limit": 1}]}
)


def build_definitions(
    warehouse: str | os.PathLike[str] | None = None,
    vendors: Sequence[Vendor] = VENDORS,
    cron: str | None = None,
) -> dg.Definitions:
    warehouse_file = warehouse_path(warehouse)
    warehouse_file.parent.mkdir(parents=True, exist_ok=True)
    project = dbt_project()
    loads = [vendor_assets(vendor, warehouse_file) for vendor in vendors]
    models = warehouse_models(project, warehouse_file)
    daily_job = dg.define_asset_job(DAILY_JOB, selection=dg.AssetSelection.all())

    @dg.schedule(
        job=daily_job,
        cron_schedule=cron or schedule_cron(),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def daily_load_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Loads every configured vendor and rebuilds the models, once a day."""
        as_of = context.scheduled_execution_time.date().isoformat()
        return dg.RunRequest(run_key=as_of, tags={AS_OF_TAG: as_of})

    return dg.Definitions(
        assets=[*loads, models],
        jobs=[daily_job],
        schedules=[daily_load_schedule],
        resources={"dlt": DagsterDltResource(), "dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable())},
        executor=WAREHOUSE_EXECUTOR,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev -w workspace.yaml`; the warehouse is $TURNOUT_WAREHOUSE."""
    return build_definitions()

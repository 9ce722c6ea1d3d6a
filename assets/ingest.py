"""dlt assets: one multi-asset per vendor, one asset per raw table."""

import ctypes
import gc
from collections.abc import Iterator
from typing import Any

import dagster as dg
import dlt
import pyarrow
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.pipeline.exceptions import PipelineStepFailed

from assets.drift import dataset_columns, gone_columns, load_ids, new_columns
from assets.locks import step_holder
from assets.recovery import PROCESS_TAG
from assets.settings import AS_OF_TAG, WAREHOUSE_OP_TAG, WAREHOUSE_POOL
from assets.warehouse import Warehouse, WarehouseBusy
from pipelines import settings
from pipelines.http import vendor_error_behind
from pipelines.reachability import unreachable_settings
from pipelines.vendor import Vendor

SCHEMA_DRIFT = "schema_drift"  # observation metadata: how a load changed a raw table's shape
VENDOR_STEP_PREFIX = "load_"  # + the vendor's name: the step (and op) that loads it


class RawTableTranslator(DagsterDltTranslator):
    """Keys raw tables as [raw_<vendor>, table], the same keys dbt gives its sources."""

    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([self.vendor.dataset, data.resource.table_name]),
            deps=[],
            group_name=self.vendor.dataset,
            description=(data.resource.__doc__ or spec.description),
        ).merge_attributes(kinds={"dlt"})


def pipeline_name(vendor_name: str) -> str:
    """A vendor's dlt pipeline, and its working folder under `pipelines_dir`."""
    return f"turnout_{vendor_name}"


def vendor_pipeline(vendor: Vendor, warehouse: Warehouse) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=pipeline_name(vendor.name),
        destination=warehouse.dlt_destination(),
        dataset_name=vendor.dataset,
        pipelines_dir=str(warehouse.dlt_working_dir()),
    )


def vendor_assets(vendor: Vendor, warehouse: Warehouse) -> dg.AssetsDefinition:
    """The vendor's raw tables as assets, loaded into the `warehouse` resource of the run."""

    @dlt_assets(
        dlt_source=vendor.source_for_specs(),
        dlt_pipeline=vendor_pipeline(vendor, warehouse),
        name=f"{VENDOR_STEP_PREFIX}{vendor.name}",
        dagster_dlt_translator=RawTableTranslator(vendor),
        pool=WAREHOUSE_POOL,
        op_tags={WAREHOUSE_OP_TAG: "warehouse"},
    )
    def load_vendor(context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: Warehouse) -> Iterator[Any]:
        # The same checks as `turnout run` makes first, for runs the schedule starts; a run
        # `turnout run` started (it tags its process) has probed the host already.
        problems = vendor.setting_problems()
        if not problems and PROCESS_TAG not in context.run.tags:
            problems = unreachable_settings([vendor])[vendor.name]
        for warning in settings.unknown_settings([vendor], within=vendor):
            context.log.warning(warning)
        if problems:
            # Each problem names its file or environment variable: nothing to add.
            raise dg.Failure(description="; ".join(problems))
        as_of = context.run.tags.get(AS_OF_TAG)
        try:
            # Held for extract and normalize too: they use the pipeline folder beside the warehouse.
            with warehouse.exclusive(say=context.log.warning, holder=step_holder(context)):
                columns_before = dataset_columns(warehouse, vendor.dataset)
                loads_before = load_ids(warehouse, vendor.dataset)
                # Open throughout dlt's run, so no other process can open the file between
                # dlt's first look at it (its state) and the load at the end.
                with warehouse.held_open(say=context.log.warning):
                    yield from dlt.run(
                        context=context,
                        dlt_source=vendor.source(as_of=as_of),
                        dlt_pipeline=vendor_pipeline(vendor, warehouse),
                        loader_file_format=warehouse.loader_file_format(),
                    )
                yield from drift_observations(context, vendor, warehouse, columns_before, loads_before)
        except WarehouseBusy as busy:
            raise dg.Failure(description=str(busy)) from None
        except PipelineStepFailed as failed:
            cause = vendor_error_behind(failed)
            if cause is None:
                raise
            # The vendor's own error (already redacted) says what went wrong; dlt's
            # wrapping only adds the pipeline's internals.
            raise dg.Failure(description=str(cause)) from failed
        finally:
            release_freed_memory()

    return load_vendor


def release_freed_memory() -> None:
    """Hands the memory a load freed back to the system.

    Both allocators a load uses keep freed memory for reuse: glibc's (the Python heap) and
    Arrow's (the Parquet files normalise writes). The steps after a load (the next vendor,
    then dbt in a process of its own) run beside this one, so what is kept adds to the peak:
    at scale large, releasing Arrow's too left the process 45 MB smaller while dbt built.
    """
    gc.collect()
    pyarrow.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the C library this process runs on
    except (OSError, AttributeError):
        pass  # not glibc: its allocator decides


def drift_observations(context: AssetExecutionContext, vendor: Vendor, warehouse: Warehouse,
                       columns_before: dict[str, set[str]], loads_before: set[str]) -> Iterator[dg.AssetObservation]:
    """One observation per raw table whose shape the load changed, and a warning in the log."""
    if not columns_before:
        return  # a first load defines the shape; there is nothing to compare with
    columns_after = dataset_columns(warehouse, vendor.dataset)
    this_run = load_ids(warehouse, vendor.dataset) - loads_before
    kept = {table: columns for table, columns in columns_after.items() if table in columns_before}
    found = new_columns(columns_before, columns_after) + gone_columns(warehouse, vendor.dataset, kept, this_run)
    by_table: dict[str, list[str]] = {}
    for drift in found:
        by_table.setdefault(drift.table, []).append(str(drift))
    for table, notes in sorted(by_table.items()):
        context.log.warning(f"{vendor.title}: schema drift in {vendor.dataset}.{table}: {'; '.join(notes)}")
        yield dg.AssetObservation(asset_key=dg.AssetKey([vendor.dataset, table]),
                                  metadata={SCHEMA_DRIFT: "; ".join(notes)})

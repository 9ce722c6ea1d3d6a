"""dlt assets: one multi-asset per vendor, one asset per raw table."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.pipeline.exceptions import PipelineStepFailed

from assets.settings import AS_OF_TAG, WAREHOUSE_OP_TAG, WAREHOUSE_POOL, pipelines_dir
from pipelines.http import vendor_error_behind
from pipelines.vendor import Vendor

LOADER_FILE_FORMAT = "parquet"  # 10-50x faster into DuckDB than dlt's insert_values


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


def vendor_pipeline(vendor: Vendor, warehouse: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"turnout_{vendor.name}",
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name=vendor.dataset,
        pipelines_dir=str(pipelines_dir(warehouse)),
    )


def vendor_assets(vendor: Vendor, warehouse: Path) -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=vendor.source_for_specs(),
        dlt_pipeline=vendor_pipeline(vendor, warehouse),
        name=f"load_{vendor.name}",
        dagster_dlt_translator=RawTableTranslator(vendor),
        pool=WAREHOUSE_POOL,
        op_tags={WAREHOUSE_OP_TAG: "warehouse"},
    )
    def load_vendor(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        missing = vendor.missing_settings()
        if missing:
            raise dg.Failure(
                f"{vendor.title} is not configured: set {', '.join(missing)} "
                "(environment or .dlt/secrets.toml)."
            )
        as_of = context.run.tags.get(AS_OF_TAG)
        try:
            yield from dlt.run(
                context=context,
                dlt_source=vendor.source(as_of=as_of),
                loader_file_format=LOADER_FILE_FORMAT,
            )
        except PipelineStepFailed as failed:
            cause = vendor_error_behind(failed)
            if cause is None:
                raise
            # The vendor's own error (already redacted) says what went wrong; dlt's
            # wrapping only adds the pipeline's internals.
            raise dg.Failure(description=str(cause)) from failed

    return load_vendor

"""The naive baseline: the same extraction as Turnout's, one request at a time, one vendor
after another, loaded with dlt's defaults (its `insert_values` file format, no dbt).

    python -m bench.naive --warehouse PATH --pipelines-dir DIR [--vendors opus,brp]

Vendor settings come from the environment, as for `turnout run`.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence

import dlt

from pipelines.registry import VENDORS
from pipelines.vendor import Vendor

SEQUENTIAL = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="DuckDB file to load into")
    parser.add_argument("--pipelines-dir", required=True, help="dlt's working folder")
    parser.add_argument("--vendors", default=",".join(v.name for v in VENDORS), help="comma-separated")
    args = parser.parse_args(argv)
    chosen = [v for v in VENDORS if v.name in args.vendors.split(",")]
    for vendor in chosen:
        pipeline = dlt.pipeline(
            pipeline_name=f"naive_{vendor.name}",
            destination=dlt.destinations.duckdb(args.warehouse),
            dataset_name=vendor.dataset,
            pipelines_dir=args.pipelines_dir,
        )
        pipeline.run(sequential_source(vendor))
        print(f"{vendor.title}: loaded", flush=True)
    return 0


def sequential_source(vendor: Vendor) -> dlt.sources.DltSource:
    """The vendor's source with one request in flight (BRP reads one window at a time anyway)."""
    if "max_in_flight" in inspect.signature(vendor.source).parameters:
        return vendor.source(max_in_flight=SEQUENTIAL)
    return vendor.source()


if __name__ == "__main__":
    sys.exit(main())

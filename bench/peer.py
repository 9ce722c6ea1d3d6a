"""The generic peer: dlt's own `rest_api` source, configured for OPUS DX and EventBookings.

Each vendor is described declaratively, as dlt's REST API source documentation
shows (client with base URL, auth and paginator; resources with data selectors,
primary keys and child resources resolved from the parent's ids), and loaded
with dlt's defaults. It reads the same entities Turnout reads for those two
vendors, so rows, requests and run times can be compared.

    python -m bench.peer --warehouse PATH --pipelines-dir DIR [--vendors opus,eventbookings]

On success the last line on stdout is JSON: {"rows": N, "tables": {"<dataset>.<table>": n}}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import dlt
from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source

OPUS_PAGE_SIZE = 500
OPUS_SPEAKERS_PAGE_SIZE = 50  # the documented maximum for speakers
EVENTBOOKINGS_ROWS = 100  # `rows` may be 20 to 100
EVENTBOOKINGS_TOKEN_URL = "https://identity.eventbookings.com/connect/token"


def setting(vendor: str, name: str, *, secret: bool = False, default: str | None = None) -> str:
    """A `sources.<vendor>.<name>` value, read the dlt way (env, then .dlt/*.toml)."""
    provider = dlt.secrets if secret else dlt.config
    value = provider.get(f"sources.{vendor}.{name}") or default
    if not value:
        raise LookupError(f"SOURCES__{vendor.upper()}__{name.upper()} is not set")
    return str(value)


def opus_config() -> RESTAPIConfig:
    def offset_paginator(limit: int) -> dict[str, Any]:
        # The doc says to page "until no results are left": its totals are
        # blank strings in some examples and spelled "total records" in others.
        return {"type": "offset", "limit": limit, "total_path": None, "stop_after_empty_page": True}

    def per_event(name: str, path: str, selector: str, primary_key: list[str],
                  limit: int = OPUS_PAGE_SIZE) -> dict[str, Any]:
        return {
            "name": name,
            "primary_key": ["_events_id", *primary_key],
            # Child records do not name their event; the key needs it.
            "include_from_parent": ["id"],
            "endpoint": {
                "path": path,
                "data_selector": selector,
                "paginator": offset_paginator(limit),
                "params": {"event_id": "{resources.events.id}"},
            },
        }

    lists = "rest/api/v1/events"
    return {
        "client": {
            "base_url": setting("opus", "base_url"),
            "auth": {"type": "api_key", "name": "api_key", "location": "query",
                     "api_key": setting("opus", "api_key", secret=True)},
            "paginator": offset_paginator(OPUS_PAGE_SIZE),
        },
        "resource_defaults": {"write_disposition": "merge"},
        "resources": [
            # The events list is wrapped in a one-element array.
            {"name": "events", "primary_key": "id",
             "endpoint": {"path": lists, "data_selector": "$[0].events"}},
            per_event("sessions", f"{lists}/sessions", "sessions", ["id"]),
            # The doc puts speakers under a different prefix than every other list.
            per_event("speakers", "rest/opus/api/v1/events/speakers", "speakers", ["id"],
                      limit=OPUS_SPEAKERS_PAGE_SIZE),
            per_event("packages", f"{lists}/packages", "data", ["product_id"]),
            per_event("registrants", f"{lists}/registrants", "registrants", ["registration_id"]),
            per_event("attendees", f"{lists}/attendees", "attendees", ["id"]),
            # A session is named only by its identification, unique within an event.
            per_event("session_attendance", f"{lists}/sessionattendance", "attendees",
                      ["user_id", "product_identification"]),
            per_event("session_itineraries", f"{lists}/sessionitineraries", "data", ["id"]),
            per_event("session_on_demand", f"{lists}/sessionondemand", "data", ["product_id"]),
        ],
    }


def eventbookings_config() -> RESTAPIConfig:
    def per_event(name: str, selector: str, primary_key: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "primary_key": primary_key,
            "include_from_parent": ["uuid"],
            "endpoint": {
                "path": f"events/{{resources.events.uuid}}/{name}",
                "data_selector": selector,
            },
        }

    return {
        "client": {
            "base_url": setting("eventbookings", "base_url"),
            # One instance, so every resource shares its token: the dict form of
            # this auth would fetch a token per resource.
            "auth": OAuth2ClientCredentials(
                access_token_url=setting("eventbookings", "token_url", default=EVENTBOOKINGS_TOKEN_URL),
                client_id=setting("eventbookings", "client_id", secret=True),
                client_secret=setting("eventbookings", "client_secret", secret=True),
            ),
            "paginator": {"type": "offset", "offset_param": "position", "limit_param": "rows",
                          "limit": EVENTBOOKINGS_ROWS, "total_path": "pagination.records"},
        },
        "resource_defaults": {"write_disposition": "merge"},
        "resources": [
            {"name": "events", "primary_key": "uuid",
             "endpoint": {"path": "events", "data_selector": "events"}},
            # Sessions come grouped by type; the selector flattens the groups.
            per_event("sessions", "sessions[*].session_lists[*]", ["_events_uuid", "uuid"]),
            per_event("tickets", "tickets", ["_events_uuid", "uuid"]),
            per_event("orders", "orders", ["uuid"]),
            per_event("attendees", "attendees", ["_events_uuid", "uuid"]),
            per_event("waiting_list", "waiting_list", ["_events_uuid", "uuid"]),
        ],
    }


VENDORS: dict[str, Callable[[], RESTAPIConfig]] = {
    "opus": opus_config,
    "eventbookings": eventbookings_config,
}


def load_vendor(vendor: str, warehouse: str, pipelines_dir: str) -> dict[str, int]:
    """Loads one vendor into `peer_<vendor>`; returns the rows of each of its tables."""
    dataset = f"peer_{vendor}"
    source = rest_api_source(VENDORS[vendor](), name=vendor)
    pipeline = dlt.pipeline(
        pipeline_name=dataset,
        destination=dlt.destinations.duckdb(warehouse),
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
    )
    pipeline.run(source)
    return table_rows(pipeline)


def table_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    dataset = pipeline.dataset_name
    with pipeline.sql_client() as client:
        names = [row[0] for row in client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name NOT LIKE '\\_dlt%%' ESCAPE '\\' ORDER BY table_name", dataset)]
        return {
            f"{dataset}.{name}": client.execute_sql(f'SELECT count(*) FROM "{dataset}"."{name}"')[0][0]
            for name in names
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="DuckDB file to load into")
    parser.add_argument("--pipelines-dir", required=True, help="folder for dlt's pipeline state")
    parser.add_argument("--vendors", default=",".join(VENDORS),
                        help="comma-separated, of: " + ", ".join(VENDORS))
    args = parser.parse_args(argv)
    args.vendors = [v.strip() for v in args.vendors.split(",") if v.strip()]
    unknown = sorted(set(args.vendors) - set(VENDORS))
    if unknown or not args.vendors:
        parser.error(f"--vendors: unknown or none given: {', '.join(unknown) or '(empty)'}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The benchmark reads stdout's last line and times the run: no chatter, no telemetry.
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    tables: dict[str, int] = {}
    for vendor in args.vendors:
        try:
            tables.update(load_vendor(vendor, args.warehouse, args.pipelines_dir))
        except Exception as error:  # any failure ends the run, named by vendor
            print(f"peer: {vendor} failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    print(json.dumps({"rows": sum(tables.values()), "tables": tables}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
